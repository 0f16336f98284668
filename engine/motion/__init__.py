"""Motion you can steer: plans (where the object and the camera go), object regions, and frames and Gaussian
noise warped along a plan, for every model without training (engine/motion/README.md)."""
from .plan import (CAMERA_MOVES, MAX_SPEED, MOTION_CHOICES, MotionPlan, PlanError, camera_plan, object_plan, motion_plan_for,
                   parse_path, path_plan, plan_from_controls, plan_from_prompt, still_plan)
from .region import Region, find_region
from .start import (DEFAULT_METHOD, DEFAULT_STRENGTH, METHODS, check_method, clip_noise, first_frame_noise,
                    planned_start, resume_index)
from .warp import FINE, coarse_noise, fine_noise_like, plan_maps, warp_image, warp_noise
