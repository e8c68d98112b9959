"""Talking faces from speech: audio -> mouth and jaw landmarks -> MotionGAN video (``motiongan speak``)."""
