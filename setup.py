"""Packaging for marketcast: the library under lib/ and its console command."""

from setuptools import find_packages, setup

setup(
    name="marketcast",
    version="0.1.0",
    description="Revenue forecasting per market on Spark and Delta Lake",
    python_requires=">=3.10",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    install_requires=[
        "pyspark>=4.1.1,<4.2",
        "delta-spark==4.4.0",  # the newest whose jar Maven Central serves
        "pandas>=2.2,<3.2",
        "pyarrow>=17,<27",
        "numpy>=1.26,<3",
        "statsforecast>=2.0.1,<2.2",
        "utilsforecast>=0.2.10,<0.3",
        "pydantic>=2.7,<3",
        "PyYAML>=6,<7",
        "deltalake>=1.1,<2",
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "ruff>=0.6,<1",
            "venv-pack>=0.2,<0.3",
            "build>=1.2,<2",
            "nbclient>=0.10,<0.11",
            "nbformat>=5.10,<6",
            "ipykernel>=6.29,<8",
        ],
    },
    entry_points={"console_scripts": ["marketcast=marketcast.cli:main"]},
)
