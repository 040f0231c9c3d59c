"""Messages to the user through Keras' own printing, so they follow its logging settings."""

try:  # stdout, or absl logging when Keras' interactive logging is disabled
    from keras.src.utils.io_utils import print_msg
except ImportError:  # pragma: no cover - a Keras without the private module
    print_msg = print

__all__ = ["print_msg"]
