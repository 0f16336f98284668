from .video import VideoReadError, read_video, save_frame_grid, write_video
from .image import ImageReadError, file_hash, fit_image, read_image
