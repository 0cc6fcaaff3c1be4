"""The library's composition root: one object that owns the stores and the services built on them.

API, CLI and demo all open a :class:`Platform` and call its services; none reaches the stores another way.
"""

from __future__ import annotations

import gc
import shutil
from dataclasses import dataclass
from pathlib import Path

from plateledger.agencies.registry import Registry
from plateledger.alerts.matcher import Matcher
from plateledger.alerts.service import Alerts
from plateledger.alerts.subscriptions import Subscriptions
from plateledger.alerts.targets import TargetGuard
from plateledger.alerts.webhooks import Webhooks
from plateledger.approvals.service import Approvals
from plateledger.audit.checkpoints import Checkpointer
from plateledger.audit.log import Actor, AuditLog
from plateledger.audit.logkey import LogIdentity
from plateledger.audit.serving import LogFiles
from plateledger.auth.sessions import Sessions
from plateledger.auth.signin import Credentials
from plateledger.auth.tokens import Tokens
from plateledger.backup.restore import check_source, unpack
from plateledger.backup.service import Backups, RestoreReport
from plateledger.cameras.health import Health
from plateledger.cameras.quarantine import Quarantine
from plateledger.cameras.vendor import VendorIngest
from plateledger.core.clock import Clock, SystemClock
from plateledger.core.settings import Settings
from plateledger.hotlists.importer import Imports
from plateledger.hotlists.service import HotLists
from plateledger.images.store import ImageStore
from plateledger.ingest.reconcile import reconcile
from plateledger.ingest.service import Ingestor
from plateledger.ops.readiness import Integrity
from plateledger.policy.gate import Gate
from plateledger.reports.access_log import AccessLog
from plateledger.reports.audit_entries import AuditEntries
from plateledger.reports.audit_export import AuditExports
from plateledger.reports.transparency import TransparencyReports
from plateledger.retention.service import Retention
from plateledger.review.live import LiveRules
from plateledger.review.places import Places
from plateledger.review.queue import ReviewQueue
from plateledger.review.register import CaseRegister
from plateledger.search.area import AreaSearches
from plateledger.search.description import DescriptionSearches
from plateledger.search.engine import SearchEngine
from plateledger.search.export import SearchExports
from plateledger.search.image import ImageViews
from plateledger.search.plate import PlateSearches
from plateledger.sharing.service import Agreements, Books, Policies
from plateledger.store.governance import Governance
from plateledger.store.lock import DataLock
from plateledger.store.reads import ReadsStore
from plateledger.subjects.letter import Letters
from plateledger.subjects.requests import SubjectRequests


@dataclass
class Platform:
    settings: Settings
    clock: Clock
    governance: Governance
    reads: ReadsStore
    audit: AuditLog
    registry: Registry
    tokens: Tokens
    sessions: Sessions
    ingest: Ingestor
    searches: PlateSearches
    areas: AreaSearches
    descriptions: DescriptionSearches
    policies: Policies
    agreements: Agreements
    retention: Retention
    books: Books
    engine: SearchEngine
    lock: DataLock
    hotlists: HotLists
    imports: Imports
    alerts: Alerts
    webhooks: Webhooks
    notify: Subscriptions
    matcher: Matcher
    access_log: AccessLog
    audit_entries: AuditEntries
    exports: SearchExports
    transparency: TransparencyReports
    quarantine: Quarantine
    health: Health
    images: ImageStore
    vendor: VendorIngest
    image_views: ImageViews
    backups: Backups
    integrity: Integrity
    checkpoints: Checkpointer
    log_files: LogFiles
    audit_exports: AuditExports
    approvals: Approvals
    subjects: SubjectRequests
    letters: Letters
    cases: CaseRegister
    places: Places
    oversight: LiveRules
    review: ReviewQueue

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, url: str | None = None) -> Platform:
        """Take the data directory's lock, open both stores (migrating the governance schema) and wire services."""
        clock = clock or SystemClock()
        lock = DataLock(settings.data, url=url)
        governance: Governance | None = None
        try:
            governance = Governance(settings.governance_url)
            reads = ReadsStore(settings.reads_dir)
        except BaseException:
            if governance is not None:
                governance.close()
            lock.release()
            raise
        audit = AuditLog(governance, clock)
        reads.audit_group = audit.batched  # an ingest pass: one audit transaction for its intents, one for outcomes
        # The outcome of every batch a stopped process left without one, then the damage found on open.
        integrity = Integrity(reads=reads, governance=governance, settings=settings, clock=clock)
        try:
            identity = LogIdentity.configured(settings)  # the log key and witness policy, refused early if unusable
            reconcile(reads=reads, governance=governance, audit=audit)
            integrity.inspect(deep=False)
        except BaseException:
            reads.close()
            governance.close()
            lock.release()
            raise
        registry = Registry(governance, audit, clock)
        checkpoints = Checkpointer(governance=governance, tree=audit.tree, identity=identity, clock=clock)
        integrity.log_sizes = checkpoints.sizes
        books = Books(governance)
        approvals = Approvals(governance, audit, clock, ttl_s=settings.approval_ttl_s)
        engine = SearchEngine(audit=audit, gate=Gate(), books=books, clock=clock, approvals=approvals)
        policies = Policies(governance, audit, clock)
        cases = CaseRegister(governance, audit, clock)
        places = Places(governance, audit, clock)
        live = LiveRules(
            governance=governance, registry=registry, policies=policies, register=cases, places=places, clock=clock
        )
        review = ReviewQueue(governance, audit, clock, live, approvals)
        agreements = Agreements(governance, audit, clock)
        access_log = AccessLog(governance, audit, clock)
        images = ImageStore(
            root=settings.images_dir, governance=governance, clock=clock, max_bytes=settings.image_max_bytes
        )
        retention = Retention(
            reads=reads,
            governance=governance,
            audit=audit,
            clock=clock,
            images=images,
            audit_detail_days=settings.audit_detail_retention_days,
        )
        alerts = Alerts(governance, audit, clock, books, retention)
        matcher = Matcher(governance=governance, reads=reads, alerts=alerts)
        credentials = Credentials(
            governance,
            audit,
            clock,
            max_failures=settings.login_max_failures,
            lockout_minutes=settings.login_lockout_minutes,
            client_max_failures=settings.login_client_max_failures,
        )
        health = Health(
            governance=governance, audit=audit, clock=clock, default_silent_s=settings.camera_silent_after_s
        )
        ingest = Ingestor(
            reads=reads,
            registry=registry,
            audit=audit,
            clock=clock,
            settings=settings,
            matcher=matcher,
            retention_days=retention.limit_days,
            saw_reads=health.saw_reads,
        )
        quarantine = Quarantine(
            governance=governance,
            registry=registry,
            ingest=ingest,
            audit=audit,
            clock=clock,
            max_reads=settings.quarantine_max_reads,
        )
        hotlists = HotLists(governance, audit, clock, max_entry_days=settings.hotlist_max_entry_days)
        tokens = Tokens(governance, audit, clock, settings.token_ttl_days, credentials)
        searches = PlateSearches(reads=reads, engine=engine, max_limit=settings.search_limit, page=settings.search_page)
        areas = AreaSearches(reads=reads, engine=engine, max_limit=settings.search_limit, page=settings.search_page)
        descriptions = DescriptionSearches(
            reads=reads, engine=engine, max_limit=settings.search_limit, page=settings.search_page
        )
        subjects = SubjectRequests(
            governance,
            audit,
            clock,
            plate_limit=settings.subject_request_plate_limit,
            client_limit=settings.subject_request_client_limit,
            window_hours=settings.subject_request_window_hours,
        )
        image_views = ImageViews(reads=reads, engine=engine, images=images, registry=registry)
        return cls(
            settings=settings,
            clock=clock,
            governance=governance,
            reads=reads,
            audit=audit,
            registry=registry,
            tokens=tokens,
            sessions=Sessions(governance, audit, clock, credentials, hours=settings.web_session_hours),
            ingest=ingest,
            searches=searches,
            areas=areas,
            descriptions=descriptions,
            retention=retention,
            policies=policies,
            agreements=agreements,
            books=books,
            engine=engine,
            lock=lock,
            hotlists=hotlists,
            imports=Imports(hotlists, settings, clock),
            alerts=alerts,
            webhooks=Webhooks(governance, audit, clock, TargetGuard(allow_loopback=settings.webhook_allow_loopback)),
            notify=Subscriptions(
                governance,
                audit,
                clock,
                TargetGuard(allow_loopback=settings.webhook_allow_loopback),
                base_url=settings.public_url or f"http://{settings.host}:{settings.port}",
            ),
            matcher=matcher,
            access_log=access_log,
            audit_entries=AuditEntries(audit),
            exports=SearchExports(
                audit=audit,
                plates=searches,
                areas=areas,
                descriptions=descriptions,
                image_views=image_views,
                images=images,
                registry=registry,
                checkpoints=checkpoints,
                clock=clock,
                font=settings.pdf_font,
            ),
            transparency=TransparencyReports(
                registry=registry,
                policies=policies,
                agreements=agreements,
                access_log=access_log,
                reads=reads,
                audit=audit,
                clock=clock,
                checkpoints=checkpoints,
                approvals=approvals,
                subjects=subjects,
                review=review,
                places=places,
            ),
            quarantine=quarantine,
            health=health,
            images=images,
            vendor=VendorIngest(
                ingest=ingest, registry=registry, quarantine=quarantine, health=health, images=images, tokens=tokens
            ),
            image_views=image_views,
            backups=Backups(
                reads=reads,
                governance=governance,
                audit=audit,
                retention=retention,
                images_dir=settings.images_dir,
                clock=clock,
                operator_token=settings.operator_token,
            ),
            integrity=integrity,
            checkpoints=checkpoints,
            log_files=LogFiles(audit.tree),
            audit_exports=AuditExports(governance, audit, origin=settings.log_origin),
            approvals=approvals,
            subjects=subjects,
            letters=Letters(
                governance=governance, reads=reads, audit=audit, clock=clock, policies=policies, requests=subjects
            ),
            cases=cases,
            places=places,
            oversight=live,
            review=review,
        )

    @classmethod
    def restore(cls, src: Path, settings: Settings, actor: Actor, *, clock: Clock | None = None) -> RestoreReport:
        """Restore the backup at ``src`` into ``settings.data`` (new or empty), verify it against its manifest,
        audit the restore and apply retention again. On any failure the new directory is removed again."""
        manifest = check_source(src, settings)
        try:
            unpack(src, settings)
            platform = cls.open(settings, clock=clock)
            try:
                return platform.backups.check_restored(actor, manifest, src.absolute())
            finally:
                platform.close()
        except BaseException:
            shutil.rmtree(settings.data, ignore_errors=True)
            raise

    def warm_up(self) -> None:
        """Before a server takes traffic: load what the first searches would otherwise load while their callers
        wait (the gate's book, the oversight rules' monitors, the audit tree, the reads store's marks), take SQLite's
        checkpoints out of the commits (``Governance.checkpoint_apart``), then move
        every object made so far out of the garbage collector's way (``gc.freeze``: the book, the hot-list mirror
        and the modules are long-lived, and a full collection traversing them paused a search for up to the tens
        of ms; docs/benchmarks.md, "Performance II, second pass")."""
        self.governance.checkpoint_apart()  # SQLite's log copied back in the background, not inside a commit
        self.books.current()
        self.oversight.warm_up()
        self.audit.warm_up()
        self.reads.warm_up()
        gc.collect()
        gc.freeze()

    def close(self) -> None:
        try:
            self.health.flush()  # the read times noted in memory (a server's last second, a CLI ingest's all)
        finally:
            self.checkpoints.close()
            self.reads.close()
            self.governance.close()
        self.lock.release()
