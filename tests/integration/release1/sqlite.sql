-- A database as release 1 left it: its schema and two of its sales (idempotency keys
-- release-1-done, run to the end, and release-1-waiting, started and never advanced), no
-- alembic_version. Made by release 1's own code, commit 13ccfee (the last before "Every CRM a
-- plug-in"), with tests/integration/release1/make_rows.py:
--   git archive 13ccfee | tar -x -C /tmp/r1 && PYTHONPATH=/tmp/r1 python make_rows.py sqlite:////tmp/r1.db
-- then `sqlite3 /tmp/r1.db .dump`.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE saga (
	id CHAR(32) NOT NULL, 
	flow VARCHAR(100) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	input JSON, 
	version INTEGER NOT NULL, 
	error TEXT, 
	failed_step VARCHAR(100), 
	idempotency_key VARCHAR(255), 
	request_hash VARCHAR(64), 
	subject VARCHAR(255), 
	message_id VARCHAR(255), 
	reply_to VARCHAR(300), 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	wake_at DATETIME, 
	deadline_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key)
);
INSERT INTO saga VALUES('b6161122153f44b2b85ec07fd0443305','zoho.sale','succeeded','{"contact_id": "C-1", "lines": [{"product_id": "P-1", "quantity": 2}]}',9,NULL,NULL,'release-1-done',NULL,'C-1',NULL,NULL,'2026-12-01 21:42:04.194137','2026-12-01 21:42:04.240118','2026-12-01 21:42:04.240111',NULL,'2026-12-01 21:52:04.194137');
INSERT INTO saga VALUES('c26446c3cf1b46e29b891ac8470a5866','zoho.sale','pending','{"contact_id": "C-1", "lines": [{"product_id": "P-1", "quantity": 1}]}',0,NULL,NULL,'release-1-waiting',NULL,'C-1',NULL,NULL,'2026-12-01 21:42:04.241826','2026-12-01 21:42:04.241826',NULL,'2026-12-01 21:42:04.241826','2026-12-01 21:52:04.241826');
CREATE TABLE crm_token (
	"key" VARCHAR(255) NOT NULL, 
	value TEXT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE saga_step (
	saga_id CHAR(32) NOT NULL, 
	"index" INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	attempts INTEGER NOT NULL, 
	undo_attempts INTEGER NOT NULL, 
	output JSON, 
	error TEXT, 
	error_code VARCHAR(100), 
	maybe_created BOOLEAN NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	lease_until DATETIME, 
	retry_at DATETIME, 
	PRIMARY KEY (saga_id, "index"), 
	FOREIGN KEY(saga_id) REFERENCES saga (id)
);
INSERT INTO saga_step VALUES('b6161122153f44b2b85ec07fd0443305',0,'price_order','succeeded',1,0,'{"contact": {"id": "C-1", "first_name": "Poligon", "last_name": "M\u00fchendislik", "email": "info@example.com", "account_id": "A-1"}, "account": {"id": "A-1", "name": "Poligon Ltd", "shipping": {"street": "Tahtal\u0131 Mah. Kiteyol Sok. No: 24", "city": "Bursa", "state": "Nil\u00fcfer", "code": "16110", "country": "T\u00fcrkiye"}, "billing": {"street": "Tahtal\u0131 Mah. Kiteyol Sok. No: 24", "city": "Bursa", "state": "Nil\u00fcfer", "code": "16110", "country": "T\u00fcrkiye"}}, "lines": [{"product_id": "P-1", "product_name": "P", "quantity": 2, "unit_price": "12.50"}]}',NULL,NULL,0,'2026-12-01 21:42:04.209816','2026-12-01 21:42:04.218822',NULL,NULL);
INSERT INTO saga_step VALUES('b6161122153f44b2b85ec07fd0443305',1,'create_deal','succeeded',1,0,'{"kind": "deal", "id": "1"}',NULL,NULL,0,'2026-12-01 21:42:04.222837','2026-12-01 21:42:04.227022',NULL,NULL);
INSERT INTO saga_step VALUES('b6161122153f44b2b85ec07fd0443305',2,'create_quote','succeeded',1,0,'{"kind": "quote", "id": "2"}',NULL,NULL,0,'2026-12-01 21:42:04.230057','2026-12-01 21:42:04.232777',NULL,NULL);
INSERT INTO saga_step VALUES('b6161122153f44b2b85ec07fd0443305',3,'create_sales_order','succeeded',1,0,'{"kind": "sales_order", "id": "3"}',NULL,NULL,0,'2026-12-01 21:42:04.235201','2026-12-01 21:42:04.237628',NULL,NULL);
INSERT INTO saga_step VALUES('c26446c3cf1b46e29b891ac8470a5866',0,'price_order','pending',0,0,'null',NULL,NULL,0,NULL,NULL,NULL,NULL);
INSERT INTO saga_step VALUES('c26446c3cf1b46e29b891ac8470a5866',1,'create_deal','pending',0,0,'null',NULL,NULL,0,NULL,NULL,NULL,NULL);
INSERT INTO saga_step VALUES('c26446c3cf1b46e29b891ac8470a5866',2,'create_quote','pending',0,0,'null',NULL,NULL,0,NULL,NULL,NULL,NULL);
INSERT INTO saga_step VALUES('c26446c3cf1b46e29b891ac8470a5866',3,'create_sales_order','pending',0,0,'null',NULL,NULL,0,NULL,NULL,NULL,NULL);
CREATE TABLE saga_event (
	id INTEGER NOT NULL, 
	saga_id CHAR(32) NOT NULL, 
	at DATETIME NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	step VARCHAR(100), 
	attempt INTEGER, 
	actor VARCHAR(100) NOT NULL, 
	detail JSON, 
	PRIMARY KEY (id), 
	FOREIGN KEY(saga_id) REFERENCES saga (id)
);
INSERT INTO saga_event VALUES(1,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.194137','saga.created',NULL,NULL,'api','null');
INSERT INTO saga_event VALUES(2,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.209831','saga.started',NULL,NULL,'engine','null');
INSERT INTO saga_event VALUES(3,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.209831','step.claimed','price_order',1,'engine','null');
INSERT INTO saga_event VALUES(4,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.218841','step.succeeded','price_order',1,'engine','{"adopted": false, "record_id": null}');
INSERT INTO saga_event VALUES(5,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.222856','step.claimed','create_deal',1,'engine','null');
INSERT INTO saga_event VALUES(6,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.227030','step.succeeded','create_deal',1,'engine','{"adopted": false, "record_id": "1"}');
INSERT INTO saga_event VALUES(7,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.230068','step.claimed','create_quote',1,'engine','null');
INSERT INTO saga_event VALUES(8,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.232784','step.succeeded','create_quote',1,'engine','{"adopted": false, "record_id": "2"}');
INSERT INTO saga_event VALUES(9,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.235211','step.claimed','create_sales_order',1,'engine','null');
INSERT INTO saga_event VALUES(10,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.237635','step.succeeded','create_sales_order',1,'engine','{"adopted": false, "record_id": "3"}');
INSERT INTO saga_event VALUES(11,'b6161122153f44b2b85ec07fd0443305','2026-12-01 21:42:04.240118','saga.succeeded',NULL,NULL,'engine','null');
INSERT INTO saga_event VALUES(12,'c26446c3cf1b46e29b891ac8470a5866','2026-12-01 21:42:04.241826','saga.created',NULL,NULL,'api','null');
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	saga_id CHAR(32) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	recipient VARCHAR(255), 
	subject TEXT, 
	body_text TEXT, 
	attempts INTEGER NOT NULL, 
	last_error TEXT, 
	created_at DATETIME NOT NULL, 
	next_attempt_at DATETIME, 
	sent_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(saga_id) REFERENCES saga (id)
);
CREATE TABLE dead_letter (
	id INTEGER NOT NULL, 
	received_at DATETIME NOT NULL, 
	source VARCHAR(100) NOT NULL, 
	message_id VARCHAR(255), 
	payload TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	replayed_at DATETIME, 
	replay_saga_id CHAR(32), 
	PRIMARY KEY (id), 
	FOREIGN KEY(replay_saga_id) REFERENCES saga (id)
);
CREATE INDEX ix_saga_flow ON saga (flow);
CREATE INDEX ix_saga_status ON saga (status);
CREATE INDEX ix_saga_created_at ON saga (created_at);
CREATE INDEX ix_saga_subject ON saga (subject);
CREATE INDEX ix_saga_wake_at_live ON saga (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX ix_saga_event_saga_id ON saga_event (saga_id);
CREATE INDEX ix_outbox_saga_id ON outbox (saga_id);
CREATE INDEX ix_outbox_next_attempt_at ON outbox (next_attempt_at);
CREATE INDEX ix_outbox_status ON outbox (status);
CREATE INDEX ix_dead_letter_message_id ON dead_letter (message_id);
CREATE INDEX ix_dead_letter_status ON dead_letter (status);
CREATE INDEX ix_dead_letter_received_at ON dead_letter (received_at);
COMMIT;
