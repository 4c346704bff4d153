-- A database as release 1 left it: its schema and two of its sales (idempotency keys
-- release-1-done, run to the end, and release-1-waiting, started and never advanced), no
-- alembic_version. Made by release 1's own code, commit 13ccfee (the last before "Every CRM a
-- plug-in"), with tests/integration/release1/make_rows.py:
--   git archive 13ccfee | tar -x -C /tmp/r1 && PYTHONPATH=/tmp/r1 python make_rows.py postgresql://postgres@127.0.0.1/r1
-- then the DDL release 1's create_all sent (its models' CreateTable and CreateIndex compiled for
-- PostgreSQL), and the rows and sequence values of `pg_dump --data-only --inserts`.

CREATE TABLE crm_token (
	key VARCHAR(255) NOT NULL, 
	value TEXT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (key)
);

CREATE TABLE saga (
	id UUID NOT NULL, 
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
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	wake_at TIMESTAMP WITH TIME ZONE, 
	deadline_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key)
);

CREATE INDEX ix_saga_created_at ON saga (created_at);

CREATE INDEX ix_saga_flow ON saga (flow);

CREATE INDEX ix_saga_status ON saga (status);

CREATE INDEX ix_saga_subject ON saga (subject);

CREATE INDEX ix_saga_wake_at_live ON saga (wake_at) WHERE wake_at IS NOT NULL;

CREATE TABLE dead_letter (
	id BIGSERIAL NOT NULL, 
	received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	source VARCHAR(100) NOT NULL, 
	message_id VARCHAR(255), 
	payload TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	replayed_at TIMESTAMP WITH TIME ZONE, 
	replay_saga_id UUID, 
	PRIMARY KEY (id), 
	FOREIGN KEY(replay_saga_id) REFERENCES saga (id)
);

CREATE INDEX ix_dead_letter_message_id ON dead_letter (message_id);

CREATE INDEX ix_dead_letter_received_at ON dead_letter (received_at);

CREATE INDEX ix_dead_letter_status ON dead_letter (status);

CREATE TABLE outbox (
	id BIGSERIAL NOT NULL, 
	saga_id UUID NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	recipient VARCHAR(255), 
	subject TEXT, 
	body_text TEXT, 
	attempts INTEGER NOT NULL, 
	last_error TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	next_attempt_at TIMESTAMP WITH TIME ZONE, 
	sent_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(saga_id) REFERENCES saga (id)
);

CREATE INDEX ix_outbox_next_attempt_at ON outbox (next_attempt_at);

CREATE INDEX ix_outbox_saga_id ON outbox (saga_id);

CREATE INDEX ix_outbox_status ON outbox (status);

CREATE TABLE saga_event (
	id BIGSERIAL NOT NULL, 
	saga_id UUID NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	step VARCHAR(100), 
	attempt INTEGER, 
	actor VARCHAR(100) NOT NULL, 
	detail JSON, 
	PRIMARY KEY (id), 
	FOREIGN KEY(saga_id) REFERENCES saga (id)
);

CREATE INDEX ix_saga_event_saga_id ON saga_event (saga_id);

CREATE TABLE saga_step (
	saga_id UUID NOT NULL, 
	index INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	attempts INTEGER NOT NULL, 
	undo_attempts INTEGER NOT NULL, 
	output JSON, 
	error TEXT, 
	error_code VARCHAR(100), 
	maybe_created BOOLEAN NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	lease_until TIMESTAMP WITH TIME ZONE, 
	retry_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (saga_id, index), 
	FOREIGN KEY(saga_id) REFERENCES saga (id)
);

INSERT INTO public.saga VALUES ('07ec274c-d703-4826-aad2-bfaa56fd24a0', 'zoho.sale', 'succeeded', '{"contact_id": "C-1", "lines": [{"product_id": "P-1", "quantity": 2}]}', 9, NULL, NULL, 'release-1-done', NULL, 'C-1', NULL, NULL, '2026-12-01 21:42:05.275253+00', '2026-12-01 21:42:05.330785+00', '2026-12-01 21:42:05.330774+00', NULL, '2026-12-01 21:52:05.275253+00');
INSERT INTO public.saga VALUES ('a99877fc-8873-4541-af07-07065ef5c619', 'zoho.sale', 'pending', '{"contact_id": "C-1", "lines": [{"product_id": "P-1", "quantity": 1}]}', 0, NULL, NULL, 'release-1-waiting', NULL, 'C-1', NULL, NULL, '2026-12-01 21:42:05.333673+00', '2026-12-01 21:42:05.333673+00', NULL, '2026-12-01 21:42:05.333673+00', '2026-12-01 21:52:05.333673+00');
INSERT INTO public.saga_step VALUES ('07ec274c-d703-4826-aad2-bfaa56fd24a0', 0, 'price_order', 'succeeded', 1, 0, '{"contact": {"id": "C-1", "first_name": "Poligon", "last_name": "M\u00fchendislik", "email": "info@example.com", "account_id": "A-1"}, "account": {"id": "A-1", "name": "Poligon Ltd", "shipping": {"street": "Tahtal\u0131 Mah. Kiteyol Sok. No: 24", "city": "Bursa", "state": "Nil\u00fcfer", "code": "16110", "country": "T\u00fcrkiye"}, "billing": {"street": "Tahtal\u0131 Mah. Kiteyol Sok. No: 24", "city": "Bursa", "state": "Nil\u00fcfer", "code": "16110", "country": "T\u00fcrkiye"}}, "lines": [{"product_id": "P-1", "product_name": "P", "quantity": 2, "unit_price": "12.50"}]}', NULL, NULL, false, '2026-12-01 21:42:05.292276+00', '2026-12-01 21:42:05.301746+00', NULL, NULL);
INSERT INTO public.saga_step VALUES ('07ec274c-d703-4826-aad2-bfaa56fd24a0', 1, 'create_deal', 'succeeded', 1, 0, '{"kind": "deal", "id": "1"}', NULL, NULL, false, '2026-12-01 21:42:05.30653+00', '2026-12-01 21:42:05.311432+00', NULL, NULL);
INSERT INTO public.saga_step VALUES ('07ec274c-d703-4826-aad2-bfaa56fd24a0', 2, 'create_quote', 'succeeded', 1, 0, '{"kind": "quote", "id": "2"}', NULL, NULL, false, '2026-12-01 21:42:05.315408+00', '2026-12-01 21:42:05.319113+00', NULL, NULL);
INSERT INTO public.saga_step VALUES ('07ec274c-d703-4826-aad2-bfaa56fd24a0', 3, 'create_sales_order', 'succeeded', 1, 0, '{"kind": "sales_order", "id": "3"}', NULL, NULL, false, '2026-12-01 21:42:05.32289+00', '2026-12-01 21:42:05.32686+00', NULL, NULL);
INSERT INTO public.saga_step VALUES ('a99877fc-8873-4541-af07-07065ef5c619', 0, 'price_order', 'pending', 0, 0, 'null', NULL, NULL, false, NULL, NULL, NULL, NULL);
INSERT INTO public.saga_step VALUES ('a99877fc-8873-4541-af07-07065ef5c619', 1, 'create_deal', 'pending', 0, 0, 'null', NULL, NULL, false, NULL, NULL, NULL, NULL);
INSERT INTO public.saga_step VALUES ('a99877fc-8873-4541-af07-07065ef5c619', 2, 'create_quote', 'pending', 0, 0, 'null', NULL, NULL, false, NULL, NULL, NULL, NULL);
INSERT INTO public.saga_step VALUES ('a99877fc-8873-4541-af07-07065ef5c619', 3, 'create_sales_order', 'pending', 0, 0, 'null', NULL, NULL, false, NULL, NULL, NULL, NULL);
INSERT INTO public.saga_event VALUES (1, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.275253+00', 'saga.created', NULL, NULL, 'api', 'null');
INSERT INTO public.saga_event VALUES (2, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.29229+00', 'saga.started', NULL, NULL, 'engine', 'null');
INSERT INTO public.saga_event VALUES (3, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.29229+00', 'step.claimed', 'price_order', 1, 'engine', 'null');
INSERT INTO public.saga_event VALUES (4, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.301767+00', 'step.succeeded', 'price_order', 1, 'engine', '{"adopted": false, "record_id": null}');
INSERT INTO public.saga_event VALUES (5, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.306598+00', 'step.claimed', 'create_deal', 1, 'engine', 'null');
INSERT INTO public.saga_event VALUES (6, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.311444+00', 'step.succeeded', 'create_deal', 1, 'engine', '{"adopted": false, "record_id": "1"}');
INSERT INTO public.saga_event VALUES (7, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.315421+00', 'step.claimed', 'create_quote', 1, 'engine', 'null');
INSERT INTO public.saga_event VALUES (8, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.319122+00', 'step.succeeded', 'create_quote', 1, 'engine', '{"adopted": false, "record_id": "2"}');
INSERT INTO public.saga_event VALUES (9, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.322934+00', 'step.claimed', 'create_sales_order', 1, 'engine', 'null');
INSERT INTO public.saga_event VALUES (10, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.326869+00', 'step.succeeded', 'create_sales_order', 1, 'engine', '{"adopted": false, "record_id": "3"}');
INSERT INTO public.saga_event VALUES (11, '07ec274c-d703-4826-aad2-bfaa56fd24a0', '2026-12-01 21:42:05.330785+00', 'saga.succeeded', NULL, NULL, 'engine', 'null');
INSERT INTO public.saga_event VALUES (12, 'a99877fc-8873-4541-af07-07065ef5c619', '2026-12-01 21:42:05.333673+00', 'saga.created', NULL, NULL, 'api', 'null');

SELECT pg_catalog.setval('public.dead_letter_id_seq', 1, false);
SELECT pg_catalog.setval('public.outbox_id_seq', 1, false);
SELECT pg_catalog.setval('public.saga_event_id_seq', 12, true);
