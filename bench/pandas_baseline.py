"""The design dbsync replaces: pandas read_sql + to_sql(if_exists="replace").

Usage: pandas_baseline.py SRC_URL DST_URL QUERY TABLE
Run with Debian's python3-pandas, python3-sqlalchemy and python3-pymysql.
"""
import sys

import pandas as pd
import sqlalchemy as sa

src_url, dst_url, query, table = sys.argv[1:5]
src = sa.create_engine(src_url)
dst = sa.create_engine(dst_url, connect_args={"ssl": {"ca": sys.argv[5]}} if len(sys.argv) > 5 else {})
frame = pd.read_sql(query, src)
frame.to_sql(table, dst, if_exists="replace", index=False, chunksize=10000, method="multi")
print(len(frame))
