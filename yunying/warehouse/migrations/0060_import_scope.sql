-- Which hospitals an import's rows belong to (组织机构代码 of the typed rows) and who started it (web user). The
-- web app shows a hospital-scoped user only the imports of their own hospitals, and their own uploads.
alter table import_log add column hospitals varchar[];
alter table import_log add column imported_by varchar;
