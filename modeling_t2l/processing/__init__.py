"""Everything between a video file and the model's inputs: decoding, frame sampling, image processing, text."""
