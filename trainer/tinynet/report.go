package tinynet

import (
	"fmt"
	"io"
	"strings"

	"github.com/tfprep/tfprep/schema"
)

// headName shortens a label feature name as Keras names outputs:
// weather_labels -> weather.
func headName(feature string) string { return strings.TrimSuffix(feature, "_labels") }

// WriteEpoch writes an epoch as Keras' fit(verbose=2) does: the steps, the
// time, then losses and metrics, training first and val_ after.
func WriteEpoch(w io.Writer, e Epoch, epochs int) {
	fmt.Fprintf(w, "Epoch %d/%d\n%d/%d - %.1fs", e.Epoch+1, epochs, e.Steps, e.Steps, e.Elapsed.Seconds())
	for _, m := range []struct {
		prefix  string
		metrics *Metrics
	}{{"", &e.Train}, {"val_", &e.Validation}} {
		fmt.Fprintf(w, " - %sloss: %.4f", m.prefix, m.metrics.Loss())
		for k := range m.metrics.Heads {
			h := &m.metrics.Heads[k]
			fmt.Fprintf(w, " - %s%s_loss: %.4f", m.prefix, headName(h.Name), h.Loss())
		}
		for k := range m.metrics.Heads {
			h := &m.metrics.Heads[k]
			if h.OneHot {
				fmt.Fprintf(w, " - %s%s_accuracy: %.4f", m.prefix, headName(h.Name), h.Accuracy())
			} else {
				fmt.Fprintf(w, " - %s%s_macro_f1: %.4f", m.prefix, headName(h.Name), h.MacroF1())
			}
		}
	}
	fmt.Fprintln(w)
}

// WriteValidation writes the last epoch's validation scores against the
// baselines of the training label frequencies freq, and a per-label table
// for each multi-hot head.
func WriteValidation(w io.Writer, labels []schema.LabelInfo, e Epoch, freq [][]float64) {
	name := func(k, i int) string {
		if i < len(labels[k].Names) {
			return labels[k].Names[i]
		}
		return fmt.Sprint(i)
	}
	fmt.Fprintf(w, "Validation (%d examples, after epoch %d):\n", e.Validation.Examples, e.Epoch+1)
	for k := range e.Validation.Heads {
		h := &e.Validation.Heads[k]
		if h.OneHot {
			majority := Majority(freq[k])
			base := h.MajorityAccuracy(majority)
			fmt.Fprintf(w, "  %s: accuracy %.3f, majority baseline (always %q) %.3f: %+.3f\n",
				headName(h.Name), h.Accuracy(), name(k, majority), base, h.Accuracy()-base)
			continue
		}
		var always []string
		for i, f := range freq[k] {
			if f >= 0.5 {
				always = append(always, name(k, i))
			}
		}
		rule := "never any label"
		if len(always) > 0 {
			rule = "always " + strings.Join(always, ", ")
		}
		base := h.MajorityMacroF1(freq[k])
		fmt.Fprintf(w, "  %s: macro F1 %.3f, per-label majority baseline (%s) %.3f: %+.3f\n",
			headName(h.Name), h.MacroF1(), rule, base, h.MacroF1()-base)
		width := len("label")
		for i := range h.Labels {
			width = max(width, len(name(k, i)))
		}
		fmt.Fprintf(w, "    %-*s  precision  recall     F1  support\n", width, "label")
		absent := 0
		for i, c := range h.Labels {
			fmt.Fprintf(w, "    %-*s  %9.3f  %6.3f  %5.3f  %7d\n", width, name(k, i), c.Precision(), c.Recall(), c.F1(), c.Support())
			if c.Support() == 0 && c.FP == 0 {
				absent++
			}
		}
		if absent > 0 {
			fmt.Fprintf(w, "    (%d of %d labels neither occur nor are predicted: each counts as F1 0 in the macro average, as in Keras and scikit-learn)\n", absent, len(h.Labels))
		}
	}
}
