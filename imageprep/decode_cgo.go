//go:build cgo

package imageprep

/*
#cgo LDFLAGS: -l:libjpeg.a
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

#define TFP_STR2(x) #x
#define TFP_STR(x) TFP_STR2(x)
static const char *tfp_version(void) { return TFP_STR(LIBJPEG_TURBO_VERSION); }

// libjpeg reports fatal errors through error_exit, which must not return. Every entry point below
// sets a jump buffer first, so error_exit longjmps back into the same C frame and the function
// returns an error code to Go; no Go frame is ever skipped.
typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int reading_header;
	int saw_eof;
	int warning_code;
	long warning_offset;
	char warning[JMSG_LENGTH_MAX];
	int error_code;
	long error_offset;
	char error[JMSG_LENGTH_MAX];
} tfp_error_mgr;

typedef struct {
	int width, height, components, out_width, out_height;
} tfp_info;

typedef struct {
	struct jpeg_decompress_struct cinfo; // first member: a j_common_ptr is a tfp_ctx*
	tfp_error_mgr err;
	tfp_info info; // results for Go, in C memory so that Go passes no pointer to its stack
	unsigned long len;
	// raw-data decoding (tfp_start_raw): one band of rows of every component
	unsigned char *raw_buf;
	size_t raw_cap;
	int raw_rows, raw_stride;
	JSAMPROW raw_rows_of[MAX_COMPONENTS][2 * DCTSIZE];
	JSAMPARRAY raw_planes[MAX_COMPONENTS];
} tfp_ctx;


static long tfp_offset(j_common_ptr c) {
	tfp_ctx *ctx = (tfp_ctx *)c;
	if (ctx->cinfo.src == NULL) return -1;
	return (long)(ctx->len - ctx->cinfo.src->bytes_in_buffer);
}

static void tfp_error_exit(j_common_ptr c) {
	tfp_error_mgr *e = (tfp_error_mgr *)c->err;
	e->error_code = e->pub.msg_code;
	e->error_offset = tfp_offset(c);
	(*e->pub.format_message)(c, e->error);
	longjmp(e->jump, 1);
}

// Stray bytes between header segments and odd metadata do not change any pixel; PIL accepts them.
static int tfp_harmless(tfp_error_mgr *e, int code) {
	return e->reading_header &&
		(code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR || code == JWRN_BOGUS_ICC);
}

static void tfp_emit_message(j_common_ptr c, int level) {
	tfp_error_mgr *e = (tfp_error_mgr *)c->err;
	if (level >= 0) return; // trace messages
	e->pub.num_warnings++;
	if (e->pub.msg_code == JWRN_JPEG_EOF) e->saw_eof = 1;
	if (e->warning_code != 0 || tfp_harmless(e, e->pub.msg_code)) return;
	e->warning_code = e->pub.msg_code;
	e->warning_offset = tfp_offset(c);
	(*e->pub.format_message)(c, e->warning);
}

static void tfp_reset(tfp_ctx *ctx) {
	ctx->err.reading_header = 0;
	ctx->err.saw_eof = 0;
	ctx->err.warning_code = 0;
	ctx->err.warning[0] = 0;
	ctx->err.error_code = 0;
	ctx->err.error[0] = 0;
	ctx->err.pub.num_warnings = 0;
}

static tfp_ctx *tfp_new(void) {
	tfp_ctx *ctx = calloc(1, sizeof(tfp_ctx));
	if (ctx == NULL) return NULL;
	ctx->cinfo.err = jpeg_std_error(&ctx->err.pub);
	ctx->err.pub.error_exit = tfp_error_exit;
	ctx->err.pub.emit_message = tfp_emit_message;
	if (setjmp(ctx->err.jump)) {
		free(ctx);
		return NULL;
	}
	jpeg_create_decompress(&ctx->cinfo);
	return ctx;
}

static void tfp_free(tfp_ctx *ctx) {
	jpeg_destroy_decompress(&ctx->cinfo);
	free(ctx->raw_buf);
	free(ctx);
}

static int tfp_read_header(tfp_ctx *ctx, const unsigned char *data, unsigned long len) {
	tfp_info *info = &ctx->info;
	tfp_reset(ctx);
	ctx->len = len;
	if (setjmp(ctx->err.jump)) {
		jpeg_abort_decompress(&ctx->cinfo);
		return -1;
	}
	jpeg_mem_src(&ctx->cinfo, data, len);
	ctx->err.reading_header = 1;
	jpeg_read_header(&ctx->cinfo, TRUE);
	ctx->err.reading_header = 0;
	info->width = ctx->cinfo.image_width;
	info->height = ctx->cinfo.image_height;
	info->components = ctx->cinfo.num_components;
	return 0;
}

// tfp_forget_input drops libjpeg's pointer into the Go buffer, which is unpinned after each image.
static void tfp_forget_input(tfp_ctx *ctx) {
	if (ctx->cinfo.src != NULL) {
		ctx->cinfo.src->next_input_byte = NULL;
		ctx->cinfo.src->bytes_in_buffer = 0;
	}
}

// tfp_abort releases a header-only decode.
static void tfp_abort(tfp_ctx *ctx) { jpeg_abort_decompress(&ctx->cinfo); }

// tfp_output_size computes the output dimensions for a DCT scale of 1/denom without decoding.
static int tfp_output_size(tfp_ctx *ctx, int out_space, int denom) {
	j_decompress_ptr d = &ctx->cinfo;
	tfp_info *info = &ctx->info;
	if (setjmp(ctx->err.jump)) {
		jpeg_abort_decompress(d);
		return -1;
	}
	d->out_color_space = out_space;
	d->scale_num = 1;
	d->scale_denom = denom;
	jpeg_calc_output_dimensions(d);
	info->out_width = d->output_width;
	info->out_height = d->output_height;
	return 0;
}

// tfp_pil_settings sets what PIL decodes with: ISLOW IDCT and fancy upsampling (libjpeg's
// defaults), scaled by 1/denom, whole images (not raw data).
static void tfp_pil_settings(j_decompress_ptr d, int out_space, int denom) {
	d->out_color_space = out_space;
	d->scale_num = 1;
	d->scale_denom = denom;
	d->dct_method = JDCT_ISLOW;
	d->do_fancy_upsampling = TRUE;
	d->raw_data_out = FALSE;
}

// tfp_decompress decodes the image whose header was read into buf, row-major, with PIL's settings:
// ISLOW IDCT and fancy upsampling (libjpeg's defaults), scaled by 1/denom.
static int tfp_decompress(tfp_ctx *ctx, int out_space, int denom, unsigned char *buf, unsigned long cap) {
	j_decompress_ptr d = &ctx->cinfo;
	if (setjmp(ctx->err.jump)) {
		jpeg_abort_decompress(d);
		return -1;
	}
	tfp_pil_settings(d, out_space, denom);
	jpeg_calc_output_dimensions(d);
	size_t stride = (size_t)d->output_width * d->output_components;
	if (stride * d->output_height > cap) {
		jpeg_abort_decompress(d);
		return -2;
	}
	jpeg_start_decompress(d);
	while (d->output_scanline < d->output_height) {
		JSAMPROW rows[16];
		JDIMENSION n = 0;
		while (n < 16 && d->output_scanline + n < d->output_height) {
			rows[n] = buf + (size_t)(d->output_scanline + n) * stride;
			n++;
		}
		jpeg_read_scanlines(d, rows, n);
	}
	jpeg_finish_decompress(d);
	return 0;
}

// tfp_raw_ok reports whether libjpeg's raw (downsampled) data of the image whose header was read is
// exactly what tfp_decompress would return for out_space, component by component: no DCT scaling,
// every component at full resolution (so no upsampling, fancy or not), and a null colour
// conversion (grayscale to grayscale, CMYK to CMYK).
static int tfp_raw_ok(tfp_ctx *ctx, int out_space) {
	j_decompress_ptr d = &ctx->cinfo;
	int n = d->num_components;
	if ((n != 1 && n != 4) || (int)d->jpeg_color_space != out_space) return 0;
	if (d->max_v_samp_factor > 2) return 0; // raw_rows_of holds 2*DCTSIZE rows
	for (int i = 0; i < n; i++) {
		jpeg_component_info *c = &d->comp_info[i];
		if (c->h_samp_factor != d->max_h_samp_factor || c->v_samp_factor != d->max_v_samp_factor) return 0;
	}
	return 1;
}

// tfp_start_raw starts a decode with PIL's settings that returns raw data band by band
// (tfp_read_raw); info.out_width/out_height are the image size, raw_rows the rows per band and
// raw_stride the bytes per row of each component in raw_buf (component c's row r of a band is at
// raw_buf + (c*raw_rows + r)*raw_stride).
static int tfp_start_raw(tfp_ctx *ctx, int out_space) {
	j_decompress_ptr d = &ctx->cinfo;
	if (setjmp(ctx->err.jump)) {
		jpeg_abort_decompress(d);
		return -1;
	}
	tfp_pil_settings(d, out_space, 1);
	d->raw_data_out = TRUE;
	jpeg_start_decompress(d);
	ctx->info.out_width = d->output_width;
	ctx->info.out_height = d->output_height;
	int rows = d->max_v_samp_factor * DCTSIZE;
	size_t stride = (size_t)d->comp_info[0].width_in_blocks * DCTSIZE;
	size_t need = stride * rows * d->num_components;
	if (need > ctx->raw_cap) {
		unsigned char *b = realloc(ctx->raw_buf, need);
		if (b == NULL) {
			jpeg_abort_decompress(d);
			return -2;
		}
		ctx->raw_buf = b;
		ctx->raw_cap = need;
	}
	for (int c = 0; c < d->num_components; c++) {
		for (int r = 0; r < rows; r++) ctx->raw_rows_of[c][r] = ctx->raw_buf + ((size_t)c * rows + r) * stride;
		ctx->raw_planes[c] = ctx->raw_rows_of[c];
	}
	ctx->raw_rows = rows;
	ctx->raw_stride = (int)stride;
	return 0;
}

// tfp_read_raw decodes the next band into raw_buf; it returns the rows decoded (padding rows past
// the image's height included), 0 after the last band (having finished the decompression), -1 on
// error.
static int tfp_read_raw(tfp_ctx *ctx) {
	j_decompress_ptr d = &ctx->cinfo;
	if (setjmp(ctx->err.jump)) {
		jpeg_abort_decompress(d);
		return -1;
	}
	if (d->output_scanline >= d->output_height) {
		jpeg_finish_decompress(d);
		return 0;
	}
	return (int)jpeg_read_raw_data(d, ctx->raw_planes, ctx->raw_rows);
}

static int tfp_unsupported(int code) {
	switch (code) {
	case JERR_BAD_PRECISION: case JERR_NOT_COMPILED: case JERR_ARITH_NOTIMPL: case JERR_CCIR601_NOTIMPL:
	case JERR_CONVERSION_NOTIMPL: case JERR_FRACT_SAMPLE_NOTIMPL: case JERR_NOTIMPL: case JERR_SOF_UNSUPPORTED:
	case JERR_IMAGE_TOO_BIG: case JERR_EMPTY_IMAGE:
		return 1;
	}
	return 0;
}
*/
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// DecoderName names the JPEG decoder compiled in; the dataset manifest records it.
func DecoderName() string { return "libjpeg-turbo " + C.GoString(C.tfp_version()) + " (cgo)" }

// PILIdentical reports whether this build's pixels are bit-identical to Keras/PIL's.
const PILIdentical = true

// jpegDecoder owns one libjpeg decompressor, reused for every image.
type jpegDecoder struct {
	ctx     *C.tfp_ctx
	pinner  runtime.Pinner // reused: a fresh Pinner allocates on every Pin
	cleanup runtime.Cleanup
	planes  [4][]uint8 // decodeRaw's view of the band buffer; a field, so passing it allocates nothing
	// reserve admits a whole-image decode of w x h needing bytes (Processor.reserve)
	reserve func(name string, w, h int, bytes int64) error
}

func newJPEGDecoder() (*jpegDecoder, error) {
	ctx := C.tfp_new()
	if ctx == nil {
		return nil, errors.New("imageprep: cannot create a libjpeg decompressor")
	}
	d := &jpegDecoder{ctx: ctx}
	d.cleanup = runtime.AddCleanup(d, func(ctx *C.tfp_ctx) { C.tfp_free(ctx) }, ctx)
	return d, nil
}

// close frees the decompressor now instead of when the garbage collector finds d unreachable.
func (d *jpegDecoder) close() {
	if d.ctx != nil {
		d.cleanup.Stop()
		C.tfp_free(d.ctx)
		d.ctx = nil
	}
}

// decode decodes a JPEG into buf (grown as needed). tw, th is the target size used by FastDCTScale
// (0 when there is none). When sink is not nil and accepts the image, and libjpeg's raw data is the
// image's samples (a 1- or 4-component JPEG without subsampling), the image is handed to sink band
// by band instead, without colour deconversion or a whole-image buffer, and the raster returned has
// no pixels.
func (d *jpegDecoder) decode(name string, data []byte, o *Options, tw, th int, buf []uint8, sink bandSink) (raster, []uint8, error) {
	if d.ctx == nil {
		return raster{}, buf, ErrClosed
	}
	if len(data) == 0 {
		return raster{}, buf, newError(name, Corrupt, 0, "empty data")
	}
	// libjpeg's source manager keeps a pointer to data between the C calls below.
	d.pinner.Pin(&data[0])
	defer d.pinner.Unpin()
	defer C.tfp_forget_input(d.ctx)
	defer runtime.KeepAlive(d)

	info := &d.ctx.info
	if C.tfp_read_header(d.ctx, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data))) != 0 {
		return raster{}, buf, d.failure(name)
	}
	w, h := int(info.width), int(info.height)
	if w*h > o.maxPixels() {
		C.tfp_abort(d.ctx)
		return raster{}, buf, newError(name, TooLarge, -1, "%dx%d is %d pixels, more than the limit of %d", w, h, w*h, o.maxPixels())
	}
	var mode srcMode
	var space C.int
	switch info.components {
	case 1:
		mode, space = srcL, C.JCS_GRAYSCALE
	case 3:
		mode, space = srcRGB, C.JCS_RGB
	case 4:
		mode, space = srcCMYK, C.JCS_CMYK
	default:
		C.tfp_abort(d.ctx)
		return raster{}, buf, newError(name, Unsupported, -1, "%d-component JPEG (PIL handles 1, 3 and 4)", int(info.components))
	}
	denom := 1
	if o.FastDCTScale && tw > 0 {
		cw, ch := w, h
		if o.KeepAspectRatio {
			b := cropBox(w, h, tw, th)
			cw, ch = int(b.x1-b.x0), int(b.y1-b.y0)
		}
		for _, s := range [...]int{8, 4, 2} {
			if cw/s >= tw && ch/s >= th {
				denom = s
				break
			}
		}
	}
	if denom == 1 && sink != nil && C.tfp_raw_ok(d.ctx, space) != 0 && sink.start(w, h, mode) {
		return raster{w: w, h: h, mode: mode}, buf, d.decodeRaw(name, o, space, w, h, mode, sink)
	}
	if C.tfp_output_size(d.ctx, space, C.int(denom)) != 0 {
		return raster{}, buf, d.failure(name)
	}
	ow, oh := int(info.out_width), int(info.out_height)
	if err := d.reserve(name, ow, oh, int64(ow)*int64(oh)*int64(mode.channels())); err != nil {
		C.tfp_abort(d.ctx)
		return raster{}, buf, err
	}
	buf = grow(buf, ow*oh*mode.channels())
	if rc := C.tfp_decompress(d.ctx, space, C.int(denom), (*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf))); rc != 0 {
		if rc == -2 {
			return raster{}, buf, newError(name, Corrupt, -1, "libjpeg output larger than its computed size")
		}
		return raster{}, buf, d.failure(name)
	}
	if err := d.warning(name, o); err != nil {
		return raster{}, buf, err
	}
	return raster{w: ow, h: oh, mode: mode, pix: buf[:ow*oh*mode.channels()]}, buf, nil
}

// decodeRaw runs a raw-data decode (see tfp_raw_ok) into sink, one band (8 or 16 rows) at a time.
func (d *jpegDecoder) decodeRaw(name string, o *Options, space C.int, w, h int, mode srcMode, sink bandSink) error {
	switch C.tfp_start_raw(d.ctx, space) {
	case 0:
	case -2:
		return newError(name, Corrupt, -1, "cannot allocate libjpeg's band buffer")
	default:
		return d.failure(name)
	}
	if int(d.ctx.info.out_width) != w || int(d.ctx.info.out_height) != h {
		C.tfp_abort(d.ctx)
		return newError(name, Corrupt, -1, "libjpeg output %dx%d, not the header's %dx%d", int(d.ctx.info.out_width), int(d.ctx.info.out_height), w, h)
	}
	rows, stride, n := int(d.ctx.raw_rows), int(d.ctx.raw_stride), mode.channels()
	all := unsafe.Slice((*uint8)(unsafe.Pointer(d.ctx.raw_buf)), rows*stride*n)
	planes := d.planes[:n]
	for c := range planes {
		planes[c] = all[c*rows*stride : (c+1)*rows*stride]
	}
	for y0 := 0; ; {
		got := int(C.tfp_read_raw(d.ctx))
		if got < 0 {
			return d.failure(name)
		}
		if got == 0 {
			break
		}
		if y0 < h {
			sink.band(y0, min(got, h-y0), planes, stride)
		}
		y0 += got
	}
	return d.warning(name, o)
}

// warning turns a libjpeg warning raised while decoding pixels into an error, unless allowed.
func (d *jpegDecoder) warning(name string, o *Options) error {
	if e := &d.ctx.err; e.warning_code != 0 && !o.AllowWarnings {
		kind := Corrupt
		if e.saw_eof != 0 {
			kind = Truncated
		}
		return newError(name, kind, int64(e.warning_offset), "libjpeg: %s", C.GoString(&e.warning[0]))
	}
	return nil
}

func (d *jpegDecoder) failure(name string) error {
	e := &d.ctx.err
	kind := Corrupt
	switch {
	case C.tfp_unsupported(e.error_code) != 0:
		kind = Unsupported
	case e.saw_eof != 0:
		kind = Truncated
	}
	return newError(name, kind, int64(e.error_offset), "libjpeg: %s", C.GoString(&e.error[0]))
}
