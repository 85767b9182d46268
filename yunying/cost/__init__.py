"""Hospital cost accounting (成本核算, 公立医院成本核算规范 2021, issue 17): allocation plans as data, the step-down
engine in SQL (科室全成本), unit costs (诊次/床日), explanation and the standard xlsx reports. docs/cost.md."""
