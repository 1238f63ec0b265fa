package schema

import (
	"fmt"
	"slices"
	"strings"
)

// The Planet vocabularies, in the order of the seed CSV's vectors
// (alphabetical within each group; "artisinal_mine" is Kaggle's spelling).
var (
	planetWeather = []string{"clear", "cloudy", "haze", "partly_cloudy"}
	planetGround  = []string{"agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down",
		"conventional_mine", "cultivation", "habitation", "primary", "road", "selective_logging",
		"slash_burn", "water"}
)

// planetImage is the seed notebook's image: Keras load_img(target_size=(128,
// 128)) (PIL nearest, RGB), img_to_array / 255, stored as raw float32 bytes.
func planetImage() ImageSpec {
	return ImageSpec{Feature: "image", Width: 128, Height: 128, ColorMode: "rgb", Filter: "nearest", Encoding: "float32"}
}

var presets = map[string]func() *Spec{
	// The seed article's CSV (KagglePlanetMCML.csv):
	// image_name,weather_labels,ground_labels with Python list literals.
	"planet": func() *Spec {
		return &Spec{
			Name:        "planet",
			Description: "Kaggle Planet, as the seed tf.keras article: CSV image_name,weather_labels,ground_labels of Python lists",
			CSV:         CSV{KeyColumn: "image_name", ImagePath: "{image_name}.jpg"},
			Labels: []LabelSpec{
				{Column: "weather_labels", Kind: KindList, Semantics: OneHot, Names: slices.Clone(planetWeather), Feature: "weather_labels", Encoding: RawFloat32},
				{Column: "ground_labels", Kind: KindList, Semantics: MultiHot, Names: slices.Clone(planetGround), Feature: "ground_labels", Encoding: RawFloat32},
			},
			Image: planetImage(),
		}
	},
	// Kaggle's own train_v2.csv: image_name,tags with space-separated tags,
	// giving the same two features.
	"planet-tags": func() *Spec {
		return &Spec{
			Name:        "planet-tags",
			Description: "Kaggle Planet from Kaggle's train_v2.csv (image_name,tags); same features as planet",
			CSV:         CSV{KeyColumn: "image_name", ImagePath: "{image_name}.jpg"},
			Labels: []LabelSpec{
				{Column: "tags", Kind: KindTags, Semantics: OneHot, Names: slices.Clone(planetWeather), Feature: "weather_labels", Encoding: RawFloat32},
				{Column: "tags", Kind: KindTags, Semantics: MultiHot, Names: slices.Clone(planetGround), Feature: "ground_labels", Encoding: RawFloat32},
			},
			Image: planetImage(),
		}
	},
	// One folder per class, as Keras image_dataset_from_directory and
	// torchvision's ImageFolder read it: no CSV; the key is the image's path
	// under the root, the label its class index. Images are resized to
	// Keras image_dataset_from_directory's default 256x256, with load_img's
	// nearest filter (PIL-identical), and stored as uint8: lossless, four
	// times smaller than float32 (reshard --image-encoding float32 gives
	// the seed's pixels/255 without the source images).
	"imagefolder": func() *Spec {
		return &Spec{
			Name:        "imagefolder",
			Description: "one folder per class (ROOT/CLASS/IMAGE, as Keras and torchvision read it): no CSV, class names are the sorted folders, label the class index",
			Source:      SourceImageFolder,
			CSV:         CSV{KeyColumn: FolderPathColumn, ImagePath: "{" + FolderPathColumn + "}"},
			Labels: []LabelSpec{
				{Column: FolderClassColumn, Kind: KindClass, Semantics: OneHot, Feature: "label", Encoding: ClassIndex},
			},
			Image: ImageSpec{Feature: "image", Width: 256, Height: 256, ColorMode: "rgb", Filter: "nearest", Encoding: "uint8"},
		}
	},
}

// PresetNames lists the built-in specs, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Preset returns a fresh copy of a built-in spec, validated.
func Preset(name string) (*Spec, error) {
	build, ok := presets[name]
	if !ok {
		return nil, fmt.Errorf("%w: no preset %q; presets: %s", ErrInvalidSpec, name, strings.Join(PresetNames(), ", "))
	}
	s := build()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}
