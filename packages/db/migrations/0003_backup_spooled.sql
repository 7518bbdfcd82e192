ALTER TYPE "backup"."backup_status" ADD VALUE IF NOT EXISTS 'spooled' BEFORE 'failed';
