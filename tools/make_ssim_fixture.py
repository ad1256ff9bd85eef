"""Prints scikit-image's SSIM of the two pictures EditMetricsTests builds, the value the test
pins (run by developers: pip install scikit-image numpy)."""
import numpy as np
import skimage
from skimage.metrics import structural_similarity

i = np.arange(16 * 12 * 3)
x = ((i * 37 + (i // 48) * 11) % 256).astype(np.uint8).reshape(12, 16, 3)
y = ((i * 37 + (i // 48) * 11 + (i % 7) * 9) % 256).astype(np.uint8).reshape(12, 16, 3)
value = structural_similarity(x, y, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
print(f"scikit-image {skimage.__version__}: ssim = {value:.9f}")
