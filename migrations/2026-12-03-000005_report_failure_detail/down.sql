ALTER TABLE reports DROP COLUMN error_detail;
