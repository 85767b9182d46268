"""Background jobs (imports, DRG regrouping, record QC): one worker thread and a FIFO queue, so two uploads at once
run one after the other while the dashboard keeps answering. Progress comes from the engines' progress callbacks."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import queue
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from yunying.web.warehouse import Warehouse

# a job's end states: done (everything stored), partial (some files failed or had every row rejected, others
# stored), failed (nothing stored: every file failed or was rejected, or the job raised). Labels are rendering
# (messages.yaml job_status_* / job_stage_*); logic compares these codes.
FINISHED = ("done", "partial", "failed")


@dataclass
class Job:
    id: int
    kind: str                      # import / regroup / qc
    username: str
    label: str
    params: dict
    status: str = "queued"         # queued / running / done / partial / failed
    stage: str = "queued"
    done: int = 0
    total: int = 0
    files_done: int = 0
    files_total: int = 1
    created_at: dt.datetime = field(default_factory=dt.datetime.now)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: dict | None = None
    error: str | None = None
    error_code: str | None = None  # the stable code of the failure (the file's IMP-… code, WEB-JOB-FAILED)
    percent_end: float | None = None   # partial / failed: the share of the work that was stored, frozen

    @property
    def percent(self) -> float:
        if self.status == "done":
            return 100.0
        if self.status == "queued":
            return 0.0
        if self.status in ("partial", "failed"):
            return self.percent_end if self.percent_end is not None else 0.0
        weights = {"read": 0.1, "transcode": 0.1, "validate": 0.3, "load": 0.4, "group": 0.9, "qc": 1.0}
        order = ["read", "transcode", "validate", "load"]
        base = sum(weights[s] for s in order[:order.index(self.stage)]) if self.stage in order else 0.0
        part = weights.get(self.stage, 0.5) * (self.done / self.total if self.total else 0.0)
        per_file = min(base + part, 0.99)
        return round(100 * (self.files_done + per_file) / max(self.files_total, 1), 1)

    def public(self) -> dict:
        return {"id": self.id, "kind": self.kind, "username": self.username, "label": self.label,
                "status": self.status, "stage": self.stage, "percent": self.percent, "error_code": self.error_code, "created_at": self.created_at.isoformat(timespec="seconds"),
                "started_at": self.started_at.isoformat(timespec="seconds") if self.started_at else None,
                "finished_at": self.finished_at.isoformat(timespec="seconds") if self.finished_at else None,
                "result": self.result, "error": self.error, "params": self.params}


def _from_record(rec) -> Job:
    job = Job(id=rec.id, kind=rec.kind, username=rec.username, label=rec.label,
              params=json.loads(rec.params) if rec.params else {}, status=rec.status, stage=rec.stage,
              created_at=rec.created_at, started_at=rec.started_at, finished_at=rec.finished_at,
              result=json.loads(rec.result) if rec.result else None, error=rec.error)
    end = (job.result or {}).get("outcome") or {}
    job.error_code, job.percent_end = end.get("error_code"), end.get("percent")
    return job


class JobQueue:
    def __init__(self, wh: Warehouse, on_done: Callable[[Job], None] | None = None,
                 on_data: Callable[[object], None] | None = None, sessions=None):
        """on_data(cursor) runs on the worker at start and after every job (new data version): it warms the
        dashboard's caches so that users do not wait for the first computation. sessions (the application DB's
        session factory): jobs are recorded in `web_job`, so their pages and results outlive a restart; jobs a
        restart interrupted are marked so."""
        self.wh = wh
        self.jobs: dict[int, Job] = {}
        self._sessions = sessions
        self._ids = itertools.count(self._recover() + 1)
        self._q: queue.Queue[tuple[Job | None, Callable] | None] = queue.Queue()
        self._on_done = on_done
        self._on_data = on_data
        self._worker = threading.Thread(target=self._run, name="yunying-jobs", daemon=True)
        self._worker.start()
        if on_data is not None:
            self._q.put((None, on_data))

    def submit(self, kind: str, username: str, label: str, params: dict, fn: Callable) -> Job:
        job = Job(id=next(self._ids), kind=kind, username=username, label=label, params=params)
        self.jobs[job.id] = job
        self._save(job)
        self._q.put((job, fn))
        return job

    def get(self, job_id: int) -> Job | None:
        """A job of this process, or a recorded one of an earlier process."""
        job = self.jobs.get(job_id)
        if job is None and self._sessions is not None:
            from yunying.web.appdb import JobRecord
            with self._sessions() as s:
                rec = s.get(JobRecord, job_id)
                job = _from_record(rec) if rec is not None else None
        return job

    def list(self, limit: int = 50) -> list[Job]:
        jobs = dict(self.jobs)
        if self._sessions is not None:
            from sqlalchemy import select

            from yunying.web.appdb import JobRecord
            with self._sessions() as s:
                for rec in s.scalars(select(JobRecord).order_by(JobRecord.id.desc()).limit(limit)):
                    jobs.setdefault(rec.id, _from_record(rec))
        return sorted(jobs.values(), key=lambda j: j.id, reverse=True)[:limit]

    # ---- the record in the application DB ---------------------------------------------------------------------
    def _recover(self) -> int:
        """Mark the jobs an earlier process left queued or running as interrupted; the highest job id so far."""
        if self._sessions is None:
            return 0
        from sqlalchemy import func, select, update

        from yunying.web.appdb import JobRecord
        with self._sessions() as s:
            s.execute(update(JobRecord).where(JobRecord.status.in_(("queued", "running"))).values(
                status="failed", stage="failed", finished_at=dt.datetime.now(),
                error="服务重启，任务中断；请重新提交 / interrupted by a restart of the service; submit it again"))
            s.commit()
            return s.scalar(select(func.max(JobRecord.id))) or 0

    def _save(self, job: Job) -> None:
        if self._sessions is None:
            return
        from yunying.web.appdb import JobRecord
        try:
            with self._sessions() as s:
                s.merge(JobRecord(id=job.id, kind=job.kind, username=job.username, label=job.label[:500],
                                  params=json.dumps(job.params, ensure_ascii=False, default=str),
                                  status=job.status, stage=job.stage, created_at=job.created_at,
                                  started_at=job.started_at, finished_at=job.finished_at,
                                  result=json.dumps(job.result, ensure_ascii=False, default=str)
                                  if job.result is not None else None, error=job.error))
                s.commit()
        except Exception:  # noqa: BLE001 — the job runs and shows in this process even if its record fails
            pass

    def wait_idle(self, timeout: float = 60) -> bool:
        """Tests and shutdown: wait until every submitted job has finished."""
        done = threading.Event()

        def check():
            while any(j.status not in FINISHED for j in list(self.jobs.values())):
                if done.wait(0.05):
                    return
            done.set()
        t = threading.Thread(target=check, daemon=True)
        t.start()
        t.join(timeout)
        done.set()
        return not any(j.status not in FINISHED for j in self.jobs.values())

    def stop(self, timeout: float = 30) -> None:
        """Stop the worker after what is queued (a cache warm-up in progress finishes before the warehouse closes)."""
        self._q.put(None)
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            job, fn = item
            if job is None:                  # cache warm-up: never fails the worker
                cur = self.wh.cursor()
                try:
                    fn(cur)
                except Exception:  # noqa: BLE001 — the pages compute on demand instead
                    pass
                finally:
                    cur.close()
                continue
            job.status, job.started_at = "running", dt.datetime.now()
            self._save(job)
            cur = self.wh.cursor()

            def progress(stage: str, done: int, total: int, job=job) -> None:
                job.stage, job.done, job.total = stage, done, total

            try:
                job.result = fn(cur, job, progress)
                end = (job.result or {}).get("outcome") if isinstance(job.result, dict) else None
                job.status = job.stage = end["status"] if end else "done"
                if end and end["status"] != "done":    # files failed or rejected: the reason and its code
                    job.error, job.error_code, job.percent_end = end["reason"], end["error_code"], end["percent"]
            except Exception as exc:  # a failing job is reported on the page, never kills the worker
                job.percent_end = job.percent       # the bar stops where the job raised
                job.status, job.stage = "failed", "failed"
                job.error = f"任务失败：{exc} / job failed: {exc}"
                job.error_code = getattr(exc, "code", None) or "WEB-JOB-FAILED"
                job.result = {"traceback": traceback.format_exc(limit=3),
                              "outcome": {"status": "failed", "error_code": job.error_code,
                                          "percent": job.percent_end, "reason": job.error}}
            finally:
                job.finished_at = dt.datetime.now()
                self._save(job)
                try:
                    cur.close()
                except Exception:
                    pass
                self.wh.bump()
                if self._on_done:
                    self._on_done(job)
                if self._on_data is not None:
                    self._q.put((None, self._on_data))


def import_job(kind: str, paths: list[Path], hospital: str | None, reject_dir: Path,
               allowed_hospitals: tuple[str, ...] | None = None,
               on_refused: Callable[[str, dict], None] | None = None, user: str | None = None,
               qc_after: bool = False, drg_after: bool = False):
    """The body of an upload job: yunying.ingest.engine.import_files with the engine's progress callback.

    allowed_hospitals: the uploader's hospitals (None = any); the engine refuses a file with a row of another
    hospital (IMP-HOSPITAL-SCOPE) and on_refused(file name, file result) records the refusal (audit log).
    user: the uploader, recorded in import_log.imported_by.
    drg_after / qc_after: when a discharge upload stored rows, the same job then regroups the warehouse with every
    registered DRG scheme that has results (stage 分组) and re-runs record QC of the hospitals it touched (stage 质控),
    so the DRG and 病案质控 pages include the new records."""
    from yunying.ingest.engine import import_files

    def run(cur, job: Job, progress) -> dict:
        job.files_total = len(paths)
        files = []
        summary_all = {"inserted": 0, "updated": 0, "rejected": 0, "warnings": 0, "rows_read": 0,
                       "import_ids": [], "reject_files": [], "files": []}
        for n, p in enumerate(paths):
            job.files_done = n
            try:
                summary = import_files(cur, kind, [p], reject_dir=reject_dir, hospital=hospital, progress=progress,
                                       allowed_hospitals=allowed_hospitals, user=user)
            except BaseException:
                _delete(paths[n:])
                raise
            _delete([p])            # an uploaded file is deleted once imported or refused (its rows, if any, are
                                    # in the warehouse; rejected rows in import_reject)
            d = summary.as_dict()
            for k in ("inserted", "updated", "rejected", "warnings", "rows_read"):
                summary_all[k] += d[k]
            summary_all["import_ids"] += [f.import_id for f in summary.files if f.import_id]
            if summary.reject_file:
                summary_all["reject_files"].append(Path(summary.reject_file).name)
            done = [{"file": Path(f["file"]).name.split("__", 1)[-1], "status": f["status"],
                     "rows_read": f["rows_read"], "inserted": f["inserted"], "updated": f["updated"],
                     "rejected": f["rejected"], "warnings": f["warnings"], "error_code": f["error_code"],
                     "message": f["message"], "encoding": f["encoding"], "profile": f["profile"],
                     "notes": f["notes"]} for f in d["files"]]
            files += done
            for f in done:
                if on_refused is not None and f["error_code"] == "IMP-HOSPITAL-SCOPE":
                    on_refused(f["file"], f)
        job.files_done = len(paths)
        summary_all["files"] = files
        summary_all["failed_files"] = sum(f["status"] != "ok" for f in files)
        summary_all["outcome"] = import_outcome(files)
        stored = kind == "discharge" and summary_all["inserted"] + summary_all["updated"] > 0
        post = [step for step, on in (("drg", drg_after), ("qc", qc_after)) if on and stored]
        job.files_total = len(paths) + len(post)          # each step after the import is one more progress step
        for i, step in enumerate(post):
            job.files_done = len(paths) + i
            summary_all.update(_drg_after_import(cur, progress) if step == "drg" else
                               _qc_after_import(cur, progress, summary_all["import_ids"]))
        return summary_all
    return run


def _file_failed(f: dict) -> bool:
    """A file that stored nothing: it failed (refused, unreadable, rolled back), or every row read was rejected."""
    return f["status"] != "ok" or (f["rows_read"] > 0 and f["rejected"] >= f["rows_read"]
                                   and f["inserted"] + f["updated"] == 0)


def import_outcome(files: list[dict]) -> dict:
    """The end state of an upload from its files: done / partial / failed, with the first bad file's reason
    (its message, Chinese first + English) and stable code, and the share of files stored (the bar's length)."""
    bad = [f for f in files if _file_failed(f)]
    if not bad:
        return {"status": "done", "error_code": None, "reason": None, "percent": 100.0}
    first = bad[0]
    code = first.get("error_code") or ("IMP-ALL-REJECTED" if first["status"] == "ok" else "IMP-FAILED")
    msg = first.get("message") or (f"全部 {first['rows_read']} 行均被拒绝，未导入任何记录 / all "
                                   f"{first['rows_read']} rows rejected, nothing imported")
    more = len(bad) - 1
    reason = f"{first['file']}：{msg}" + (f"（另有 {more} 个文件未导入 / {more} more files not imported）"
                                          if more else "")
    ok = len(files) - len(bad)
    return {"status": "partial" if ok else "failed", "error_code": code, "reason": reason,
            "percent": round(100.0 * ok / len(files), 1) if files else 0.0}


def _delete(paths: list[Path]) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _drg_after_import(cur, progress) -> dict:
    """Regroup with every registered scheme that already has results (the import is committed: a failure is
    reported in the result, never undoes it)."""
    from yunying.drg.store import load_registered, run_grouping

    try:
        schemes = [r[0] for r in cur.execute(
            "select distinct r.scheme from drg_result r join drg_scheme s on s.name = r.scheme order by 1").fetchall()]
    except Exception:                       # no DRG tables in this warehouse
        return {}
    out = []
    try:
        for name in schemes:
            res = run_grouping(cur, load_registered(cur, name), name, progress=lambda d, t: progress("group", d, t))
            out.append({"scheme": name, "cases": res.get("cases"), "by_status": res.get("by_status")})
    except Exception as exc:
        return {"drg": out, "drg_error": f"DRG 重新分组未完成：{exc}（数据已导入，可由管理员在系统管理页重新分组）/ "
                                          f"DRG regrouping did not finish: {exc} (the data is imported; an "
                                          f"administrator can regroup from the admin page)"}
    if not out:
        return {}
    zh = "；".join(f"DRG 方案 {d['scheme']} 重新分组 {d['cases']:,} 例" for d in out)
    en = "; ".join(f"DRG scheme {d['scheme']} regrouped {d['cases']:,} cases" for d in out)
    return {"drg": out, "drg_summary_zh": zh, "drg_summary_en": en}


def _qc_after_import(cur, progress, import_ids: list[int]) -> dict:
    """Record QC of the hospitals whose rows an upload stored (import_log.hospitals of its successful imports).
    The import is committed already: a QC failure is reported in the result, never undoes it."""
    from yunying.qc.engine import run_qc
    from yunying.qc.loader import load_catalogue

    ids = ", ".join(str(int(i)) for i in import_ids) or "null"
    hospitals = [h for h, in cur.execute(
        f"select distinct unnest(hospitals) as h from import_log where status = 'ok' and import_id in ({ids}) "
        "order by 1").fetchall()]
    out = []
    try:
        for n, h in enumerate(hospitals):
            s = run_qc(cur, load_catalogue(), hospital=h, progress=_qc_progress(progress, n, len(hospitals)))
            out.append({"hospital": h, "run_id": s.run_id, "n_records": s.n_records, "n_findings": s.n_findings,
                        "avg_score": s.avg_score})
    except Exception as exc:      # the rows are stored; say that QC did not run and how to run it
        return {"qc": out, "qc_error": f"质控未完成：{exc}（数据已导入，可在病案质控页重新质控）/ QC did not finish: "
                                       f"{exc} (the data is imported; re-run QC from the 病案质控 page)"}
    zh = "；".join(f"{q['hospital']} 质控 {q['n_records']:,} 份，缺陷 {q['n_findings']:,} 条" for q in out)
    en = "; ".join(f"{q['hospital']} QC {q['n_records']:,} records, {q['n_findings']:,} findings" for q in out)
    return {"qc": out, "qc_summary_zh": zh, "qc_summary_en": en}


def _status_summary(scheme: str, cases, by_status) -> dict:
    """'DRG 方案 demo 重新分组 1,428 例：入组成功 1,420、未入组 8' — statuses decoded through the data model's
    drg_status domain (yunying.web.labels), counts as integers."""
    from yunying.web.labels import decode

    def parts(lang):
        return "、".join(f"{decode('drg_status', k, lang)} {int(v):,}" for k, v in (by_status or {}).items())
    n = f"{int(cases or 0):,}"
    return {"summary_zh": f"DRG 方案 {scheme} 重新分组 {n} 例" + (f"：{parts('zh')}" if by_status else ""),
            "summary_en": f"DRG scheme {scheme} regrouped {n} cases" + (f": {parts('en')}" if by_status else "")}


def regroup_job(scheme: str):
    """Re-run DRG grouping of every discharge under a registered scheme."""
    def run(cur, job: Job, progress) -> dict:
        from yunying.drg.store import load_registered, run_grouping

        pack = load_registered(cur, scheme)
        res = run_grouping(cur, pack, scheme, progress=lambda d, t: progress("group", d, t))
        return {"cases": res.get("cases"), "by_status": res.get("by_status"),
                **_status_summary(scheme, res.get("cases"), res.get("by_status"))}
    return run


def _qc_progress(progress, n: int = 0, of: int = 1):
    """run_qc's stages (compile, rules, scoring) as the job stage 质控: hospital n of `of`, 0–100 each."""
    def prog(stage: str, done: int, total: int) -> None:
        part = done / total if total else 0.0
        frac = {"qc-prepare": 0.0, "qc-rules": 0.1 + 0.8 * part, "qc-score": 0.9 + 0.1 * part}.get(stage, 0.0)
        progress("qc", int(100 * (n + frac)), 100 * of)
    return prog


def qc_job(hospital: str | None):
    """Re-run record QC (the code behind `yunying qc run`) for one hospital, or the whole warehouse when None;
    the hospital's results are replaced, other hospitals' kept. Rule overrides come from YUNYING_QC_OVERRIDES."""
    def run(cur, job: Job, progress) -> dict:
        from yunying.qc.engine import run_qc
        from yunying.qc.loader import load_catalogue

        s = run_qc(cur, load_catalogue(), hospital=hospital, progress=_qc_progress(progress))
        avg = f"{s.avg_score:.2f}" if s.avg_score is not None else "—"
        grades = "、".join(f"{g} {n:,}" for g, n in s.by_grade.items())
        return {"run_id": s.run_id, "hospital": hospital, "n_records": s.n_records, "n_findings": s.n_findings,
                "avg_score": s.avg_score, "by_grade": s.by_grade, "rules": s.counts(), "seconds": s.seconds,
                "summary_zh": f"质控完成：{s.n_records:,} 份病案，缺陷 {s.n_findings:,} 条，平均分 {avg}"
                              + (f"，等级 {grades}" if grades else ""),
                "summary_en": f"QC done: {s.n_records:,} records, {s.n_findings:,} findings, average score {avg}"}
    return run
