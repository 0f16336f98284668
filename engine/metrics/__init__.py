"""Metrics: PSNR, SSIM, TCC against ground truth; judder (uneven motion) of a clip alone; attribute accuracy and
Fréchet distance through the judge."""
from .alignment import attribute_accuracy, frechet_distance, judge_features, video_frechet_distance
from .judge import Judge, load_judge, to_judge_view
from .quality import flicker, judder, psnr, ssim, tcc
