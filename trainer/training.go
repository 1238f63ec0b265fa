package trainer

// TrainingData is what a training job reads: the examples to train on and
// those to validate on.
type TrainingData struct {
	Train, Validation *Dataset
	// ValidationSplit is the split validated on; "" when Validation is held
	// out of the training split.
	ValidationSplit string
	// Total is the number of examples of the training split with its
	// held-out part, -1 when unknown or nothing is held out.
	Total int64
}

// OpenTraining opens split of the dataset in dir for training and the
// examples to validate on: the split named validation; else, unless
// forceHoldout, the split "validation" when the dataset has one (and split is
// not it); else the part of split that h holds out, never also trained on.
func OpenTraining(dir, split, validation string, h Holdout, forceHoldout bool) (TrainingData, error) {
	data := TrainingData{Total: -1}
	name := validation
	if name == "" && !forceHoldout {
		all, err := Open(dir)
		if err != nil {
			return data, err
		}
		for _, sh := range all.Shards() {
			if sh.Split == "validation" && split != "validation" {
				name = "validation"
			}
		}
	}
	train, err := Open(dir, split)
	if err != nil {
		return data, err
	}
	if name != "" {
		held, err := Open(dir, name)
		if err != nil {
			return data, err
		}
		return TrainingData{Train: train, Validation: held, ValidationSplit: name, Total: -1}, nil
	}
	rest, held, err := train.Holdout(h)
	if err != nil {
		return data, err
	}
	return TrainingData{Train: rest, Validation: held, Total: train.Examples()}, nil
}
