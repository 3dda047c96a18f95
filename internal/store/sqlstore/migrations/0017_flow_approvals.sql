-- Approval flow by flow (issue 20 item 2): each approval records the
-- reviewer's decision on every data flow of the version, as a JSON object
-- of flow id → true (approved) or false (refused). Approvals recorded
-- before flows existed read as '{}', which approves every flow, as
-- approving the version did then.
ALTER TABLE review_approvals ADD COLUMN flows TEXT NOT NULL DEFAULT '{}';
