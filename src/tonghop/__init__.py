"""tonghop: consolidation of grassroots Party organisations' reports into a Vietnamese draft."""

__version__ = "0.1.0"
