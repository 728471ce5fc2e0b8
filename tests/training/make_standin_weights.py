"""Write a stand-in for Model Maker's pretrained checkpoint: the same network, randomly initialised.

Run with the training environment's Python: `python make_standin_weights.py ARCH DIR`. Model Maker
downloads its real checkpoint from Google storage, which these machines cannot reach; this one has
the same variables under the same names, so Model Maker's loading check passes and the whole
pipeline (train, quantization-aware training, export) runs offline. Its detections are noise:
anything trained from it tests the plumbing, never the quality.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(architecture: str, folder: str) -> None:
    import tensorflow as tf
    from mediapipe_model_maker.python.vision.object_detector import model as model_lib
    from mediapipe_model_maker.python.vision.object_detector import model_options, model_spec

    spec = model_spec.SupportedModels[architecture].value()
    tf.keras.utils.set_random_seed(0)
    network = model_lib.ObjectDetectorModel.__new__(model_lib.ObjectDetectorModel)
    tf.keras.Model.__init__(network)
    network._model_spec = spec
    network._model_options = model_options.ObjectDetectorModelOptions()
    network._num_classes = 2
    keras_model = network._build_model()
    keras_model(tf.zeros([1, *spec.input_image_shape]), training=True)
    os.makedirs(folder, exist_ok=True)
    tf.train.Checkpoint(backbone=keras_model.backbone, decoder=keras_model.decoder,
                        head=keras_model.head).write(os.path.join(folder, spec.checkpoint_name))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
