"""Yunying demo DRG scheme (演示数据): CSV files of a scheme pack written for this project. See README.md."""
