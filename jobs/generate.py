"""The synthetic data generator. Plain Python, no Spark needed, for example:

.venv/bin/python jobs/generate.py --out data/synthetic --series 1000 --days 365 --form parquet
"""

from marketcast.synthetic import main

if __name__ == "__main__":
    main()
