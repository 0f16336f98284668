"""Metrics: PSNR, SSIM, TCC against ground truth; judder (uneven motion) of a clip alone; attribute accuracy and
Fréchet distance through the judge; how far an object follows the motion asked of it (`track_error`)."""
from .alignment import attribute_accuracy, frechet_distance, judge_features, video_frechet_distance
from .judge import Judge, load_judge, to_judge_view
from .path import object_track, track_error
from .quality import flicker, judder, psnr, ssim, tcc
