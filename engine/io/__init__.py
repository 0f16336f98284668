from .video import VideoReadError, read_video, save_frame_grid, write_video
