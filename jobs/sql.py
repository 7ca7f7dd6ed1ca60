"""The sql job. Run it through the launcher, for example:

./spark-submit.sh sql --help
"""

from marketcast.entry import job_main

if __name__ == "__main__":
    job_main("sql")
