-- Create "audit_entries" table
CREATE TABLE `audit_entries` (`id` text NOT NULL, `action` text NOT NULL, `actor_kind` text NOT NULL, `actor_id` text NULL, `target_type` text NULL, `target_id` text NULL, `details` json NULL, `ip` text NULL, `request_id` text NULL, `created_at` datetime NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `audit_entries_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "auditentry_merchant_id" to table: "audit_entries"
CREATE INDEX `auditentry_merchant_id` ON `audit_entries` (`merchant_id`);
-- Create index "auditentry_merchant_id_created_at" to table: "audit_entries"
CREATE INDEX `auditentry_merchant_id_created_at` ON `audit_entries` (`merchant_id`, `created_at`);
-- Create "campaigns" table
CREATE TABLE `campaigns` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `channel` text NOT NULL, `subject` text NULL, `message` text NOT NULL, `audience` text NOT NULL, `segment` text NULL, `scheduled_at` datetime NULL, `status` text NOT NULL DEFAULT ('DRAFT'), `created_by_id` text NOT NULL, `dispatched_at` datetime NULL, `fanned_out_at` datetime NULL, `audience_count` integer NOT NULL DEFAULT (0), `sent_at` datetime NULL, `cancelled_at` datetime NULL, `merchant_id` text NOT NULL, `offer_id` text NULL, `saved_segment_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `campaigns_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `campaigns_offers_offer` FOREIGN KEY (`offer_id`) REFERENCES `offers` (`id`) ON DELETE SET NULL, CONSTRAINT `campaigns_saved_segments_saved_segment` FOREIGN KEY (`saved_segment_id`) REFERENCES `saved_segments` (`id`) ON DELETE SET NULL);
-- Create index "campaign_merchant_id" to table: "campaigns"
CREATE INDEX `campaign_merchant_id` ON `campaigns` (`merchant_id`);
-- Create index "campaign_status_scheduled_at" to table: "campaigns"
CREATE INDEX `campaign_status_scheduled_at` ON `campaigns` (`status`, `scheduled_at`);
-- Create index "campaign_merchant_id_created_at" to table: "campaigns"
CREATE INDEX `campaign_merchant_id_created_at` ON `campaigns` (`merchant_id`, `created_at`);
-- Create "campaign_messages" table
CREATE TABLE `campaign_messages` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL, `last_error` text NULL, `attempts` integer NOT NULL DEFAULT (0), `lease_until` datetime NULL, `sent_at` datetime NULL, `campaign_id` text NOT NULL, `merchant_id` text NOT NULL, `customer_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `campaign_messages_campaigns_messages` FOREIGN KEY (`campaign_id`) REFERENCES `campaigns` (`id`) ON DELETE NO ACTION, CONSTRAINT `campaign_messages_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `campaign_messages_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE NO ACTION);
-- Create index "campaignmessage_merchant_id" to table: "campaign_messages"
CREATE INDEX `campaignmessage_merchant_id` ON `campaign_messages` (`merchant_id`);
-- Create index "campaignmessage_campaign_id_customer_id" to table: "campaign_messages"
CREATE UNIQUE INDEX `campaignmessage_campaign_id_customer_id` ON `campaign_messages` (`campaign_id`, `customer_id`);
-- Create index "campaignmessage_campaign_id_status" to table: "campaign_messages"
CREATE INDEX `campaignmessage_campaign_id_status` ON `campaign_messages` (`campaign_id`, `status`);
-- Create index "campaignmessage_merchant_id_customer_id_created_at" to table: "campaign_messages"
CREATE INDEX `campaignmessage_merchant_id_customer_id_created_at` ON `campaign_messages` (`merchant_id`, `customer_id`, `created_at`);
-- Create "campaign_settings" table
CREATE TABLE `campaign_settings` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `frequency_cap` integer NOT NULL DEFAULT (2), `frequency_window_days` integer NOT NULL DEFAULT (7), `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `campaign_settings_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "campaignsettings_merchant_id" to table: "campaign_settings"
CREATE INDEX `campaignsettings_merchant_id` ON `campaign_settings` (`merchant_id`);
-- Create index "campaign_settings_one_per_merchant" to table: "campaign_settings"
CREATE UNIQUE INDEX `campaign_settings_one_per_merchant` ON `campaign_settings` (`merchant_id`);
-- Create "cash_movements" table
CREATE TABLE `cash_movements` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `amount` integer NOT NULL, `reason` text NOT NULL, `staff_id` text NOT NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, `shift_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `cash_movements_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `cash_movements_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `cash_movements_cash_shifts_movements` FOREIGN KEY (`shift_id`) REFERENCES `cash_shifts` (`id`) ON DELETE NO ACTION);
-- Create index "cashmovement_merchant_id" to table: "cash_movements"
CREATE INDEX `cashmovement_merchant_id` ON `cash_movements` (`merchant_id`);
-- Create index "cashmovement_merchant_id_shift_id" to table: "cash_movements"
CREATE INDEX `cashmovement_merchant_id_shift_id` ON `cash_movements` (`merchant_id`, `shift_id`);
-- Create "cash_shifts" table
CREATE TABLE `cash_shifts` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `idempotency_key` text NULL, `status` text NOT NULL DEFAULT ('OPEN'), `opened_by_id` text NOT NULL, `opened_at` datetime NOT NULL, `opening_float` integer NOT NULL, `closed_by_id` text NULL, `closed_at` datetime NULL, `cash_sales` integer NOT NULL DEFAULT (0), `cash_refunds` integer NOT NULL DEFAULT (0), `paid_in` integer NOT NULL DEFAULT (0), `paid_out` integer NOT NULL DEFAULT (0), `expected` integer NULL, `counted` integer NULL, `difference` integer NULL, `difference_reason` text NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, `device_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `cash_shifts_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `cash_shifts_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `cash_shifts_devices_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE NO ACTION);
-- Create index "cashshift_merchant_id" to table: "cash_shifts"
CREATE INDEX `cashshift_merchant_id` ON `cash_shifts` (`merchant_id`);
-- Create index "cash_shift_one_open_per_device" to table: "cash_shifts"
CREATE UNIQUE INDEX `cash_shift_one_open_per_device` ON `cash_shifts` (`device_id`) WHERE status = 'OPEN';
-- Create index "cashshift_merchant_id_idempotency_key" to table: "cash_shifts"
CREATE UNIQUE INDEX `cashshift_merchant_id_idempotency_key` ON `cash_shifts` (`merchant_id`, `idempotency_key`);
-- Create index "cashshift_merchant_id_store_id_opened_at" to table: "cash_shifts"
CREATE INDEX `cashshift_merchant_id_store_id_opened_at` ON `cash_shifts` (`merchant_id`, `store_id`, `opened_at`);
-- Create "credential_grants" table
CREATE TABLE `credential_grants` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key_hash` text NOT NULL, `request_hash` text NOT NULL, `device_id` text NOT NULL, `sealed` blob NOT NULL, `expires_at` datetime NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `credential_grants_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "credential_grants_key_hash_key" to table: "credential_grants"
CREATE UNIQUE INDEX `credential_grants_key_hash_key` ON `credential_grants` (`key_hash`);
-- Create index "credentialgrant_merchant_id" to table: "credential_grants"
CREATE INDEX `credentialgrant_merchant_id` ON `credential_grants` (`merchant_id`);
-- Create index "credentialgrant_expires_at" to table: "credential_grants"
CREATE INDEX `credentialgrant_expires_at` ON `credential_grants` (`expires_at`);
-- Create "customers" table
CREATE TABLE `customers` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `name_key` text NOT NULL DEFAULT (''), `search_text` text NOT NULL, `phone_enc` text NULL, `phone_index` text NULL, `email_enc` text NULL, `email_index` text NULL, `address_enc` text NULL, `pii_key_id` text NULL, `birthday` text NULL, `gender` text NULL, `notes` text NULL, `tags` json NULL, `member_code` text NOT NULL, `push_consent` bool NOT NULL DEFAULT (false), `push_consent_at` datetime NULL, `sms_consent` bool NOT NULL DEFAULT (false), `sms_consent_at` datetime NULL, `email_consent` bool NOT NULL DEFAULT (false), `email_consent_at` datetime NULL, `status` text NOT NULL DEFAULT ('ACTIVE'), `merged_into_id` text NULL, `segment` text NOT NULL DEFAULT ('NEW'), `rfm` text NULL, `visits_count` integer NOT NULL DEFAULT (0), `total_spent` integer NOT NULL DEFAULT (0), `first_visit_at` datetime NULL, `last_visit_at` datetime NULL, `merchant_id` text NOT NULL, `customer_created_by` text NULL, `customer_store` text NULL, `customer_favourite_store` text NULL, PRIMARY KEY (`id`), CONSTRAINT `customers_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `customers_staffs_created_by` FOREIGN KEY (`customer_created_by`) REFERENCES `staffs` (`id`) ON DELETE SET NULL, CONSTRAINT `customers_stores_store` FOREIGN KEY (`customer_store`) REFERENCES `stores` (`id`) ON DELETE SET NULL, CONSTRAINT `customers_stores_favourite_store` FOREIGN KEY (`customer_favourite_store`) REFERENCES `stores` (`id`) ON DELETE SET NULL);
-- Create index "customer_merchant_id" to table: "customers"
CREATE INDEX `customer_merchant_id` ON `customers` (`merchant_id`);
-- Create index "customer_merchant_id_phone_index" to table: "customers"
CREATE UNIQUE INDEX `customer_merchant_id_phone_index` ON `customers` (`merchant_id`, `phone_index`);
-- Create index "customer_merchant_id_email_index" to table: "customers"
CREATE UNIQUE INDEX `customer_merchant_id_email_index` ON `customers` (`merchant_id`, `email_index`);
-- Create index "customer_merchant_id_member_code" to table: "customers"
CREATE UNIQUE INDEX `customer_merchant_id_member_code` ON `customers` (`merchant_id`, `member_code`);
-- Create index "customer_merchant_id_last_visit_at" to table: "customers"
CREATE INDEX `customer_merchant_id_last_visit_at` ON `customers` (`merchant_id`, `last_visit_at`);
-- Create index "customer_merchant_id_updated_at" to table: "customers"
CREATE INDEX `customer_merchant_id_updated_at` ON `customers` (`merchant_id`, `updated_at`);
-- Create index "customer_merchant_id_segment" to table: "customers"
CREATE INDEX `customer_merchant_id_segment` ON `customers` (`merchant_id`, `segment`);
-- Create index "customer_pii_key_id" to table: "customers"
CREATE INDEX `customer_pii_key_id` ON `customers` (`pii_key_id`);
-- Create "customer_months" table
CREATE TABLE `customer_months` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `month` text NOT NULL, `sales_count` integer NOT NULL DEFAULT (0), `amount` integer NOT NULL DEFAULT (0), `merchant_id` text NOT NULL, `customer_id` text NOT NULL, `store_id` text NOT NULL, CONSTRAINT `customer_months_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `customer_months_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE NO ACTION, CONSTRAINT `customer_months_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "customermonth_merchant_id" to table: "customer_months"
CREATE INDEX `customermonth_merchant_id` ON `customer_months` (`merchant_id`);
-- Create index "customermonth_customer_id_store_id_month" to table: "customer_months"
CREATE UNIQUE INDEX `customermonth_customer_id_store_id_month` ON `customer_months` (`customer_id`, `store_id`, `month`);
-- Create index "customermonth_merchant_id_month" to table: "customer_months"
CREATE INDEX `customermonth_merchant_id_month` ON `customer_months` (`merchant_id`, `month`);
-- Create index "customermonth_merchant_id_store_id_month" to table: "customer_months"
CREATE INDEX `customermonth_merchant_id_store_id_month` ON `customer_months` (`merchant_id`, `store_id`, `month`);
-- Create "customer_store_visits" table
CREATE TABLE `customer_store_visits` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `visits` integer NOT NULL DEFAULT (0), `customer_id` text NOT NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, CONSTRAINT `customer_store_visits_customers_store_visits` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE NO ACTION, CONSTRAINT `customer_store_visits_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `customer_store_visits_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "customerstorevisits_merchant_id" to table: "customer_store_visits"
CREATE INDEX `customerstorevisits_merchant_id` ON `customer_store_visits` (`merchant_id`);
-- Create index "customerstorevisits_customer_id_store_id" to table: "customer_store_visits"
CREATE UNIQUE INDEX `customerstorevisits_customer_id_store_id` ON `customer_store_visits` (`customer_id`, `store_id`);
-- Create index "customerstorevisits_merchant_id_customer_id" to table: "customer_store_visits"
CREATE INDEX `customerstorevisits_merchant_id_customer_id` ON `customer_store_visits` (`merchant_id`, `customer_id`);
-- Create "customer_trigrams" table
CREATE TABLE `customer_trigrams` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `customer_id` text NOT NULL, `trigram` text NOT NULL, `merchant_id` text NOT NULL, CONSTRAINT `customer_trigrams_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "customertrigram_merchant_id" to table: "customer_trigrams"
CREATE INDEX `customertrigram_merchant_id` ON `customer_trigrams` (`merchant_id`);
-- Create index "customertrigram_merchant_id_trigram" to table: "customer_trigrams"
CREATE INDEX `customertrigram_merchant_id_trigram` ON `customer_trigrams` (`merchant_id`, `trigram`);
-- Create index "customertrigram_merchant_id_customer_id" to table: "customer_trigrams"
CREATE INDEX `customertrigram_merchant_id_customer_id` ON `customer_trigrams` (`merchant_id`, `customer_id`);
-- Create "day_closes" table
CREATE TABLE `day_closes` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `business_date` text NOT NULL, `closed_by_id` text NOT NULL, `closed_at` datetime NOT NULL, `currency` text NOT NULL, `count` integer NOT NULL, `amount` integer NOT NULL, `fees` integer NOT NULL, `net_to_bank` integer NOT NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `day_closes_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `day_closes_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "dayclose_merchant_id" to table: "day_closes"
CREATE INDEX `dayclose_merchant_id` ON `day_closes` (`merchant_id`);
-- Create index "dayclose_store_id_business_date" to table: "day_closes"
CREATE UNIQUE INDEX `dayclose_store_id_business_date` ON `day_closes` (`store_id`, `business_date`);
-- Create "devices" table
CREATE TABLE `devices` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `serial_number` text NOT NULL, `model` text NOT NULL, `kind` text NOT NULL DEFAULT ('TERMINAL'), `location_label` text NULL, `status` text NOT NULL DEFAULT ('PENDING'), `app_version` text NULL, `firmware_version` text NULL, `paired_at` datetime NULL, `last_seen_at` datetime NULL, `health` text NOT NULL DEFAULT ('OFFLINE'), `credential_hash` text NULL, `credential_rotated_at` datetime NULL, `session_epoch` integer NOT NULL DEFAULT (0), `merchant_id` text NOT NULL, `store_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `devices_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `devices_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "device_merchant_id" to table: "devices"
CREATE INDEX `device_merchant_id` ON `devices` (`merchant_id`);
-- Create index "device_serial_number" to table: "devices"
CREATE UNIQUE INDEX `device_serial_number` ON `devices` (`serial_number`) WHERE status <> 'RETIRED';
-- Create index "device_merchant_id_store_id" to table: "devices"
CREATE INDEX `device_merchant_id_store_id` ON `devices` (`merchant_id`, `store_id`);
-- Create index "device_model_app_version" to table: "devices"
CREATE INDEX `device_model_app_version` ON `devices` (`model`, `app_version`);
-- Create index "device_health_last_seen_at" to table: "devices"
CREATE INDEX `device_health_last_seen_at` ON `devices` (`health`, `last_seen_at`);
-- Create "export_chunks" table
CREATE TABLE `export_chunks` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `seq` integer NOT NULL, `data` blob NOT NULL, `merchant_id` text NOT NULL, `job_id` text NOT NULL, CONSTRAINT `export_chunks_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `export_chunks_export_jobs_chunks` FOREIGN KEY (`job_id`) REFERENCES `export_jobs` (`id`) ON DELETE NO ACTION);
-- Create index "exportchunk_merchant_id" to table: "export_chunks"
CREATE INDEX `exportchunk_merchant_id` ON `export_chunks` (`merchant_id`);
-- Create index "exportchunk_job_id_seq" to table: "export_chunks"
CREATE UNIQUE INDEX `exportchunk_job_id_seq` ON `export_chunks` (`job_id`, `seq`);
-- Create "export_jobs" table
CREATE TABLE `export_jobs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `requested_by_id` text NOT NULL, `kind` text NOT NULL, `format` text NOT NULL, `filters` json NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `rows_total` integer NOT NULL DEFAULT (0), `rows_done` integer NOT NULL DEFAULT (0), `bytes` integer NOT NULL DEFAULT (0), `error` text NULL, `lease_owner` text NULL, `lease_until` datetime NULL, `attempts` integer NOT NULL DEFAULT (0), `finished_at` datetime NULL, `expires_at` datetime NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `export_jobs_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "exportjob_merchant_id" to table: "export_jobs"
CREATE INDEX `exportjob_merchant_id` ON `export_jobs` (`merchant_id`);
-- Create index "exportjob_status_lease_until" to table: "export_jobs"
CREATE INDEX `exportjob_status_lease_until` ON `export_jobs` (`status`, `lease_until`);
-- Create index "exportjob_status_expires_at" to table: "export_jobs"
CREATE INDEX `exportjob_status_expires_at` ON `export_jobs` (`status`, `expires_at`);
-- Create index "exportjob_merchant_id_created_at" to table: "export_jobs"
CREATE INDEX `exportjob_merchant_id_created_at` ON `export_jobs` (`merchant_id`, `created_at`);
-- Create "feedbacks" table
CREATE TABLE `feedbacks` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `recorded_by_id` text NOT NULL, `rating` integer NOT NULL, `category` text NOT NULL, `comment` text NULL, `merchant_id` text NOT NULL, `sale_id` text NOT NULL, `store_id` text NOT NULL, `customer_id` text NULL, `product_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `feedbacks_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `feedbacks_sales_sale` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE NO ACTION, CONSTRAINT `feedbacks_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `feedbacks_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE SET NULL, CONSTRAINT `feedbacks_products_product` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE SET NULL);
-- Create index "feedback_merchant_id" to table: "feedbacks"
CREATE INDEX `feedback_merchant_id` ON `feedbacks` (`merchant_id`);
-- Create index "feedback_merchant_id_store_id_created_at" to table: "feedbacks"
CREATE INDEX `feedback_merchant_id_store_id_created_at` ON `feedbacks` (`merchant_id`, `store_id`, `created_at`);
-- Create index "feedback_merchant_id_product_id" to table: "feedbacks"
CREATE INDEX `feedback_merchant_id_product_id` ON `feedbacks` (`merchant_id`, `product_id`);
-- Create index "feedback_merchant_id_sale_id" to table: "feedbacks"
CREATE INDEX `feedback_merchant_id_sale_id` ON `feedbacks` (`merchant_id`, `sale_id`);
-- Create index "feedback_merchant_id_customer_id" to table: "feedbacks"
CREATE INDEX `feedback_merchant_id_customer_id` ON `feedbacks` (`merchant_id`, `customer_id`);
-- Create "loyalty_accounts" table
CREATE TABLE `loyalty_accounts` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `points` integer NOT NULL DEFAULT (0), `tier` text NOT NULL, `tier_since` datetime NOT NULL, `tier_review_at` datetime NULL, `merchant_id` text NOT NULL, `customer_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `loyalty_accounts_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_accounts_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE NO ACTION);
-- Create index "loyaltyaccount_merchant_id" to table: "loyalty_accounts"
CREATE INDEX `loyaltyaccount_merchant_id` ON `loyalty_accounts` (`merchant_id`);
-- Create index "loyaltyaccount_customer_id" to table: "loyalty_accounts"
CREATE UNIQUE INDEX `loyaltyaccount_customer_id` ON `loyalty_accounts` (`customer_id`);
-- Create index "loyaltyaccount_tier_review_at" to table: "loyalty_accounts"
CREATE INDEX `loyaltyaccount_tier_review_at` ON `loyalty_accounts` (`tier_review_at`);
-- Create "loyalty_entries" table
CREATE TABLE `loyalty_entries` (`id` text NOT NULL, `kind` text NOT NULL, `points` integer NOT NULL, `qualifying_points` integer NOT NULL DEFAULT (0), `qualifying_spend` integer NOT NULL DEFAULT (0), `occurred_at` datetime NOT NULL, `expires_at` datetime NULL, `reason` text NULL, `program_version` integer NULL, `idempotency_key` text NULL, `request_hash` text NULL, `created_at` datetime NOT NULL, `merchant_id` text NOT NULL, `account_id` text NOT NULL, `sale_id` text NULL, `refund_id` text NULL, `reward_id` text NULL, `redemption_id` text NULL, `tender_id` text NULL, `staff_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `loyalty_entries_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_entries_loyalty_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `loyalty_accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_entries_sales_sale` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE SET NULL, CONSTRAINT `loyalty_entries_refunds_refund` FOREIGN KEY (`refund_id`) REFERENCES `refunds` (`id`) ON DELETE SET NULL, CONSTRAINT `loyalty_entries_loyalty_rewards_reward` FOREIGN KEY (`reward_id`) REFERENCES `loyalty_rewards` (`id`) ON DELETE SET NULL, CONSTRAINT `loyalty_entries_loyalty_redemptions_redemption` FOREIGN KEY (`redemption_id`) REFERENCES `loyalty_redemptions` (`id`) ON DELETE SET NULL, CONSTRAINT `loyalty_entries_tenders_tender` FOREIGN KEY (`tender_id`) REFERENCES `tenders` (`id`) ON DELETE SET NULL, CONSTRAINT `loyalty_entries_staffs_staff` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE SET NULL);
-- Create index "loyaltyentry_merchant_id" to table: "loyalty_entries"
CREATE INDEX `loyaltyentry_merchant_id` ON `loyalty_entries` (`merchant_id`);
-- Create index "loyaltyentry_merchant_id_account_id_created_at" to table: "loyalty_entries"
CREATE INDEX `loyaltyentry_merchant_id_account_id_created_at` ON `loyalty_entries` (`merchant_id`, `account_id`, `created_at`);
-- Create index "loyaltyentry_merchant_id_account_id_occurred_at" to table: "loyalty_entries"
CREATE INDEX `loyaltyentry_merchant_id_account_id_occurred_at` ON `loyalty_entries` (`merchant_id`, `account_id`, `occurred_at`);
-- Create index "loyaltyentry_merchant_id_sale_id" to table: "loyalty_entries"
CREATE INDEX `loyaltyentry_merchant_id_sale_id` ON `loyalty_entries` (`merchant_id`, `sale_id`);
-- Create index "loyaltyentry_merchant_id_idempotency_key" to table: "loyalty_entries"
CREATE UNIQUE INDEX `loyaltyentry_merchant_id_idempotency_key` ON `loyalty_entries` (`merchant_id`, `idempotency_key`);
-- Create "loyalty_lots" table
CREATE TABLE `loyalty_lots` (`id` text NOT NULL, `remaining` integer NOT NULL, `expires_at` datetime NULL, `created_at` datetime NOT NULL, `merchant_id` text NOT NULL, `entry_id` text NOT NULL, `account_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `loyalty_lots_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_lots_loyalty_entries_entry` FOREIGN KEY (`entry_id`) REFERENCES `loyalty_entries` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_lots_loyalty_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `loyalty_accounts` (`id`) ON DELETE NO ACTION);
-- Create index "loyaltylot_merchant_id" to table: "loyalty_lots"
CREATE INDEX `loyaltylot_merchant_id` ON `loyalty_lots` (`merchant_id`);
-- Create index "loyaltylot_merchant_id_account_id_remaining" to table: "loyalty_lots"
CREATE INDEX `loyaltylot_merchant_id_account_id_remaining` ON `loyalty_lots` (`merchant_id`, `account_id`, `remaining`);
-- Create index "loyaltylot_expires_at_remaining" to table: "loyalty_lots"
CREATE INDEX `loyaltylot_expires_at_remaining` ON `loyalty_lots` (`expires_at`, `remaining`);
-- Create index "loyaltylot_entry_id" to table: "loyalty_lots"
CREATE UNIQUE INDEX `loyaltylot_entry_id` ON `loyalty_lots` (`entry_id`);
-- Create "loyalty_program_versions" table
CREATE TABLE `loyalty_program_versions` (`id` text NOT NULL, `version` integer NOT NULL, `effective_from` datetime NOT NULL, `enabled` bool NOT NULL, `points_per_unit` integer NOT NULL, `unit_amount` integer NOT NULL, `rounding` text NOT NULL, `min_spend` integer NOT NULL, `earning_tenders` json NOT NULL, `expiry_months` integer NOT NULL, `point_value` integer NOT NULL, `tiers` json NOT NULL, `tier_basis` text NOT NULL, `created_at` datetime NOT NULL, `merchant_id` text NOT NULL, `staff_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `loyalty_program_versions_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_program_versions_staffs_staff` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION);
-- Create index "loyaltyprogramversion_merchant_id" to table: "loyalty_program_versions"
CREATE INDEX `loyaltyprogramversion_merchant_id` ON `loyalty_program_versions` (`merchant_id`);
-- Create index "loyaltyprogramversion_merchant_id_version" to table: "loyalty_program_versions"
CREATE UNIQUE INDEX `loyaltyprogramversion_merchant_id_version` ON `loyalty_program_versions` (`merchant_id`, `version`);
-- Create "loyalty_redemptions" table
CREATE TABLE `loyalty_redemptions` (`id` text NOT NULL, `points` integer NOT NULL, `discount_amount` integer NOT NULL, `voided_at` datetime NULL, `idempotency_key` text NULL, `request_hash` text NULL, `created_at` datetime NOT NULL, `merchant_id` text NOT NULL, `reward_id` text NOT NULL, `account_id` text NOT NULL, `sale_id` text NULL, `store_id` text NOT NULL, `staff_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `loyalty_redemptions_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_redemptions_loyalty_rewards_reward` FOREIGN KEY (`reward_id`) REFERENCES `loyalty_rewards` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_redemptions_loyalty_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `loyalty_accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_redemptions_sales_sale` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE SET NULL, CONSTRAINT `loyalty_redemptions_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_redemptions_staffs_staff` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION);
-- Create index "loyaltyredemption_merchant_id" to table: "loyalty_redemptions"
CREATE INDEX `loyaltyredemption_merchant_id` ON `loyalty_redemptions` (`merchant_id`);
-- Create index "loyaltyredemption_merchant_id_sale_id" to table: "loyalty_redemptions"
CREATE INDEX `loyaltyredemption_merchant_id_sale_id` ON `loyalty_redemptions` (`merchant_id`, `sale_id`);
-- Create index "loyaltyredemption_merchant_id_account_id" to table: "loyalty_redemptions"
CREATE INDEX `loyaltyredemption_merchant_id_account_id` ON `loyalty_redemptions` (`merchant_id`, `account_id`);
-- Create index "loyaltyredemption_merchant_id_idempotency_key" to table: "loyalty_redemptions"
CREATE UNIQUE INDEX `loyaltyredemption_merchant_id_idempotency_key` ON `loyalty_redemptions` (`merchant_id`, `idempotency_key`);
-- Create "loyalty_rewards" table
CREATE TABLE `loyalty_rewards` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `kind` text NOT NULL, `amount` integer NULL, `percent_bp` integer NULL, `max_discount` integer NULL, `points_cost` integer NOT NULL, `active` bool NOT NULL DEFAULT (true), `min_tier` text NULL, `merchant_id` text NOT NULL, `product_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `loyalty_rewards_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `loyalty_rewards_products_product` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE SET NULL);
-- Create index "loyaltyreward_merchant_id" to table: "loyalty_rewards"
CREATE INDEX `loyaltyreward_merchant_id` ON `loyalty_rewards` (`merchant_id`);
-- Create "merchants" table
CREATE TABLE `merchants` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `currency` text NOT NULL, `locale` text NOT NULL DEFAULT ('en'), `status` text NOT NULL DEFAULT ('ACTIVE'), `suspended_reason` text NULL, `suspended_at` datetime NULL, `cashiers_see_full_contact` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Create "notifications" table
CREATE TABLE `notifications` (`id` text NOT NULL, `staff_id` text NOT NULL, `event` text NOT NULL, `subject_id` text NOT NULL, `store_id` text NULL, `text_key` text NOT NULL, `args` json NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `sent_tokens` json NULL, `last_error` text NULL, `dedupe_key` text NOT NULL, `created_at` datetime NOT NULL, `sent_at` datetime NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `notifications_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "notification_merchant_id" to table: "notifications"
CREATE INDEX `notification_merchant_id` ON `notifications` (`merchant_id`);
-- Create index "notification_staff_id_dedupe_key" to table: "notifications"
CREATE UNIQUE INDEX `notification_staff_id_dedupe_key` ON `notifications` (`staff_id`, `dedupe_key`);
-- Create index "notification_staff_id_created_at" to table: "notifications"
CREATE INDEX `notification_staff_id_created_at` ON `notifications` (`staff_id`, `created_at`);
-- Create "notification_preferences" table
CREATE TABLE `notification_preferences` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `staff_id` text NOT NULL, `events` json NOT NULL, `store_ids` json NULL, `min_sale_amount` integer NOT NULL DEFAULT (0), `quiet_start` text NULL, `quiet_end` text NULL, `daily_summary_at` text NOT NULL DEFAULT ('21:00'), `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `notification_preferences_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "notification_preferences_staff_id_key" to table: "notification_preferences"
CREATE UNIQUE INDEX `notification_preferences_staff_id_key` ON `notification_preferences` (`staff_id`);
-- Create index "notificationpreference_merchant_id" to table: "notification_preferences"
CREATE INDEX `notificationpreference_merchant_id` ON `notification_preferences` (`merchant_id`);
-- Create "offers" table
CREATE TABLE `offers` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `description` text NULL, `kind` text NOT NULL, `percent_bp` integer NULL, `max_discount` integer NULL, `amount` integer NULL, `min_spend` integer NULL, `target` text NOT NULL DEFAULT ('EVERYONE'), `segment` text NULL, `valid_from` datetime NOT NULL, `valid_until` datetime NULL, `per_customer_limit` integer NULL, `usage_limit` integer NULL, `redemption_count` integer NOT NULL DEFAULT (0), `stacking` text NOT NULL DEFAULT ('STACKABLE'), `code` text NULL, `code_key` text NULL, `status` text NOT NULL DEFAULT ('ACTIVE'), `ended_at` datetime NULL, `created_by_id` text NOT NULL, `merchant_id` text NOT NULL, `saved_segment_id` text NULL, `store_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `offers_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `offers_saved_segments_saved_segment` FOREIGN KEY (`saved_segment_id`) REFERENCES `saved_segments` (`id`) ON DELETE SET NULL, CONSTRAINT `offers_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE SET NULL);
-- Create index "offer_merchant_id" to table: "offers"
CREATE INDEX `offer_merchant_id` ON `offers` (`merchant_id`);
-- Create index "offer_merchant_id_code_key" to table: "offers"
CREATE UNIQUE INDEX `offer_merchant_id_code_key` ON `offers` (`merchant_id`, `code_key`);
-- Create index "offer_merchant_id_status_valid_from" to table: "offers"
CREATE INDEX `offer_merchant_id_status_valid_from` ON `offers` (`merchant_id`, `status`, `valid_from`);
-- Create "offer_redemptions" table
CREATE TABLE `offer_redemptions` (`id` text NOT NULL, `amount` integer NOT NULL, `at` datetime NOT NULL, `voided_at` datetime NULL, `offer_id` text NOT NULL, `merchant_id` text NOT NULL, `customer_id` text NULL, `sale_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `offer_redemptions_offers_redemptions` FOREIGN KEY (`offer_id`) REFERENCES `offers` (`id`) ON DELETE NO ACTION, CONSTRAINT `offer_redemptions_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `offer_redemptions_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE SET NULL, CONSTRAINT `offer_redemptions_sales_sale` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE NO ACTION);
-- Create index "offerredemption_merchant_id" to table: "offer_redemptions"
CREATE INDEX `offerredemption_merchant_id` ON `offer_redemptions` (`merchant_id`);
-- Create index "offerredemption_merchant_id_offer_id_customer_id" to table: "offer_redemptions"
CREATE INDEX `offerredemption_merchant_id_offer_id_customer_id` ON `offer_redemptions` (`merchant_id`, `offer_id`, `customer_id`);
-- Create index "offerredemption_merchant_id_sale_id" to table: "offer_redemptions"
CREATE INDEX `offerredemption_merchant_id_sale_id` ON `offer_redemptions` (`merchant_id`, `sale_id`);
-- Create index "offerredemption_merchant_id_customer_id" to table: "offer_redemptions"
CREATE INDEX `offerredemption_merchant_id_customer_id` ON `offer_redemptions` (`merchant_id`, `customer_id`);
-- Create "operators" table
CREATE TABLE `operators` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `email` text NOT NULL, `password_hash` text NOT NULL, `active` bool NOT NULL DEFAULT (true), `password_changed_at` datetime NULL, `last_login_at` datetime NULL, PRIMARY KEY (`id`));
-- Create index "operator_email" to table: "operators"
CREATE UNIQUE INDEX `operator_email` ON `operators` (`email`);
-- Create "outbox_events" table
CREATE TABLE `outbox_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `topic` text NOT NULL, `subject_id` text NOT NULL, `payload` json NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `available_at` datetime NOT NULL, `last_error` text NULL, `created_at` datetime NOT NULL, `delivered_at` datetime NULL, `merchant_id` text NOT NULL, CONSTRAINT `outbox_events_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "outboxevent_merchant_id" to table: "outbox_events"
CREATE INDEX `outboxevent_merchant_id` ON `outbox_events` (`merchant_id`);
-- Create index "outboxevent_status_available_at" to table: "outbox_events"
CREATE INDEX `outboxevent_status_available_at` ON `outbox_events` (`status`, `available_at`);
-- Create index "outboxevent_subject_id_status" to table: "outbox_events"
CREATE INDEX `outboxevent_subject_id_status` ON `outbox_events` (`subject_id`, `status`);
-- Create "pairing_codes" table
CREATE TABLE `pairing_codes` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `code_hash` text NOT NULL, `store_id` text NOT NULL, `created_by_id` text NOT NULL, `expires_at` datetime NOT NULL, `used_at` datetime NULL, `device_id` text NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `pairing_codes_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "pairing_codes_code_hash_key" to table: "pairing_codes"
CREATE UNIQUE INDEX `pairing_codes_code_hash_key` ON `pairing_codes` (`code_hash`);
-- Create index "pairingcode_merchant_id" to table: "pairing_codes"
CREATE INDEX `pairingcode_merchant_id` ON `pairing_codes` (`merchant_id`);
-- Create index "pairingcode_expires_at" to table: "pairing_codes"
CREATE INDEX `pairingcode_expires_at` ON `pairing_codes` (`expires_at`);
-- Create "platform_audit_entries" table
CREATE TABLE `platform_audit_entries` (`id` text NOT NULL, `action` text NOT NULL, `actor_kind` text NOT NULL, `actor_id` text NULL, `target_type` text NULL, `target_id` text NULL, `details` json NULL, `ip` text NULL, `request_id` text NULL, `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "platformauditentry_created_at" to table: "platform_audit_entries"
CREATE INDEX `platformauditentry_created_at` ON `platform_audit_entries` (`created_at`);
-- Create index "platformauditentry_target_id" to table: "platform_audit_entries"
CREATE INDEX `platformauditentry_target_id` ON `platform_audit_entries` (`target_id`);
-- Create "products" table
CREATE TABLE `products` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `sku` text NOT NULL, `barcode` text NULL, `name` text NOT NULL, `search_text` text NOT NULL DEFAULT (''), `category` text NULL, `unit_price` integer NOT NULL, `cost` integer NULL, `tax_rate_bp` integer NOT NULL DEFAULT (0), `active` bool NOT NULL DEFAULT (true), `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `products_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "product_merchant_id" to table: "products"
CREATE INDEX `product_merchant_id` ON `products` (`merchant_id`);
-- Create index "product_merchant_id_sku" to table: "products"
CREATE UNIQUE INDEX `product_merchant_id_sku` ON `products` (`merchant_id`, `sku`);
-- Create index "product_merchant_id_barcode" to table: "products"
CREATE UNIQUE INDEX `product_merchant_id_barcode` ON `products` (`merchant_id`, `barcode`);
-- Create index "product_merchant_id_updated_at" to table: "products"
CREATE INDEX `product_merchant_id_updated_at` ON `products` (`merchant_id`, `updated_at`);
-- Create "product_days" table
CREATE TABLE `product_days` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `store_id` text NOT NULL, `business_date` text NOT NULL, `product_key` text NOT NULL, `product_id` text NULL, `name` text NOT NULL, `category` text NOT NULL, `units` integer NOT NULL DEFAULT (0), `revenue` integer NOT NULL DEFAULT (0), `cost` integer NOT NULL DEFAULT (0), `units_without_cost` integer NOT NULL DEFAULT (0), `units_returned` integer NOT NULL DEFAULT (0), `revenue_returned` integer NOT NULL DEFAULT (0), `cost_returned` integer NOT NULL DEFAULT (0), `merchant_id` text NOT NULL, CONSTRAINT `product_days_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "productday_merchant_id" to table: "product_days"
CREATE INDEX `productday_merchant_id` ON `product_days` (`merchant_id`);
-- Create index "productday_merchant_id_store_id_business_date_product_key" to table: "product_days"
CREATE UNIQUE INDEX `productday_merchant_id_store_id_business_date_product_key` ON `product_days` (`merchant_id`, `store_id`, `business_date`, `product_key`);
-- Create "product_price_changes" table
CREATE TABLE `product_price_changes` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `old_price` integer NOT NULL, `new_price` integer NOT NULL, `product_id` text NOT NULL, `merchant_id` text NOT NULL, `changed_by_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `product_price_changes_products_price_changes` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE NO ACTION, CONSTRAINT `product_price_changes_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `product_price_changes_staffs_changed_by` FOREIGN KEY (`changed_by_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION);
-- Create index "productpricechange_merchant_id" to table: "product_price_changes"
CREATE INDEX `productpricechange_merchant_id` ON `product_price_changes` (`merchant_id`);
-- Create index "productpricechange_merchant_id_product_id" to table: "product_price_changes"
CREATE INDEX `productpricechange_merchant_id_product_id` ON `product_price_changes` (`merchant_id`, `product_id`);
-- Create "push_tokens" table
CREATE TABLE `push_tokens` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `staff_id` text NOT NULL, `token` text NOT NULL, `platform` text NOT NULL, `device_name` text NULL, `locale` text NOT NULL DEFAULT ('en'), `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `push_tokens_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "push_tokens_token_key" to table: "push_tokens"
CREATE UNIQUE INDEX `push_tokens_token_key` ON `push_tokens` (`token`);
-- Create index "pushtoken_merchant_id" to table: "push_tokens"
CREATE INDEX `pushtoken_merchant_id` ON `push_tokens` (`merchant_id`);
-- Create index "pushtoken_staff_id" to table: "push_tokens"
CREATE INDEX `pushtoken_staff_id` ON `push_tokens` (`staff_id`);
-- Create "receipt_deliveries" table
CREATE TABLE `receipt_deliveries` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `channel` text NOT NULL, `destination_enc` text NOT NULL, `pii_key_id` text NOT NULL, `destination_masked` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `attempts` integer NOT NULL DEFAULT (0), `last_error` text NULL, `sent_at` datetime NULL, `requested_by_id` text NOT NULL, `idempotency_key` text NULL, `request_hash` text NULL, `merchant_id` text NOT NULL, `sale_id` text NOT NULL, `store_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `receipt_deliveries_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `receipt_deliveries_sales_sale` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE NO ACTION, CONSTRAINT `receipt_deliveries_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "receiptdelivery_merchant_id" to table: "receipt_deliveries"
CREATE INDEX `receiptdelivery_merchant_id` ON `receipt_deliveries` (`merchant_id`);
-- Create index "receiptdelivery_merchant_id_sale_id_created_at" to table: "receipt_deliveries"
CREATE INDEX `receiptdelivery_merchant_id_sale_id_created_at` ON `receipt_deliveries` (`merchant_id`, `sale_id`, `created_at`);
-- Create index "receiptdelivery_merchant_id_idempotency_key" to table: "receipt_deliveries"
CREATE UNIQUE INDEX `receiptdelivery_merchant_id_idempotency_key` ON `receipt_deliveries` (`merchant_id`, `idempotency_key`);
-- Create "refunds" table
CREATE TABLE `refunds` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `idempotency_key` text NOT NULL, `request_hash` text NOT NULL, `kind` text NOT NULL, `reason` text NOT NULL, `amount` integer NOT NULL, `tax` integer NOT NULL, `business_date` text NOT NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, `staff_id` text NOT NULL, `device_id` text NULL, `exchange_sale_id` text NULL, `sale_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `refunds_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `refunds_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `refunds_staffs_staff` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION, CONSTRAINT `refunds_devices_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE SET NULL, CONSTRAINT `refunds_sales_exchange_sale` FOREIGN KEY (`exchange_sale_id`) REFERENCES `sales` (`id`) ON DELETE SET NULL, CONSTRAINT `refunds_sales_refunds` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE NO ACTION);
-- Create index "refund_merchant_id" to table: "refunds"
CREATE INDEX `refund_merchant_id` ON `refunds` (`merchant_id`);
-- Create index "refund_merchant_id_idempotency_key" to table: "refunds"
CREATE UNIQUE INDEX `refund_merchant_id_idempotency_key` ON `refunds` (`merchant_id`, `idempotency_key`);
-- Create index "refund_merchant_id_sale_id" to table: "refunds"
CREATE INDEX `refund_merchant_id_sale_id` ON `refunds` (`merchant_id`, `sale_id`);
-- Create index "refund_merchant_id_store_id_created_at" to table: "refunds"
CREATE INDEX `refund_merchant_id_store_id_created_at` ON `refunds` (`merchant_id`, `store_id`, `created_at`);
-- Create "refund_lines" table
CREATE TABLE `refund_lines` (`id` text NOT NULL, `quantity` integer NOT NULL, `amount` integer NOT NULL, `refund_id` text NOT NULL, `merchant_id` text NOT NULL, `sale_line_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `refund_lines_refunds_lines` FOREIGN KEY (`refund_id`) REFERENCES `refunds` (`id`) ON DELETE NO ACTION, CONSTRAINT `refund_lines_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `refund_lines_sale_lines_sale_line` FOREIGN KEY (`sale_line_id`) REFERENCES `sale_lines` (`id`) ON DELETE NO ACTION);
-- Create index "refundline_merchant_id" to table: "refund_lines"
CREATE INDEX `refundline_merchant_id` ON `refund_lines` (`merchant_id`);
-- Create index "refundline_merchant_id_refund_id" to table: "refund_lines"
CREATE INDEX `refundline_merchant_id_refund_id` ON `refund_lines` (`merchant_id`, `refund_id`);
-- Create "refund_tenders" table
CREATE TABLE `refund_tenders` (`id` text NOT NULL, `type` text NOT NULL, `amount` integer NOT NULL, `refund_id` text NOT NULL, `merchant_id` text NOT NULL, `tender_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `refund_tenders_refunds_tenders` FOREIGN KEY (`refund_id`) REFERENCES `refunds` (`id`) ON DELETE NO ACTION, CONSTRAINT `refund_tenders_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `refund_tenders_tenders_tender` FOREIGN KEY (`tender_id`) REFERENCES `tenders` (`id`) ON DELETE SET NULL);
-- Create index "refundtender_merchant_id" to table: "refund_tenders"
CREATE INDEX `refundtender_merchant_id` ON `refund_tenders` (`merchant_id`);
-- Create index "refundtender_merchant_id_refund_id" to table: "refund_tenders"
CREATE INDEX `refundtender_merchant_id_refund_id` ON `refund_tenders` (`merchant_id`, `refund_id`);
-- Create "releases" table
CREATE TABLE `releases` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `models` json NOT NULL, `channel` text NOT NULL, `version` text NOT NULL, `version_key` text NOT NULL, `min_supported_version` text NULL, `download_url` text NOT NULL, `sha256` text NOT NULL, `notes` text NULL, `rollout_percent` integer NOT NULL, `status` text NOT NULL DEFAULT ('PUBLISHED'), `published_at` datetime NOT NULL, `published_by` text NOT NULL, `withdrawn_at` datetime NULL, PRIMARY KEY (`id`));
-- Create index "release_channel_version" to table: "releases"
CREATE UNIQUE INDEX `release_channel_version` ON `releases` (`channel`, `version`);
-- Create index "release_channel_status_version_key" to table: "releases"
CREATE INDEX `release_channel_status_version_key` ON `releases` (`channel`, `status`, `version_key`);
-- Create "risk_list_entries" table
CREATE TABLE `risk_list_entries` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `value` text NOT NULL, `reason` text NOT NULL, `created_by_id` text NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `risk_list_entries_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "risklistentry_merchant_id" to table: "risk_list_entries"
CREATE INDEX `risklistentry_merchant_id` ON `risk_list_entries` (`merchant_id`);
-- Create index "risklistentry_merchant_id_kind_value" to table: "risk_list_entries"
CREATE UNIQUE INDEX `risklistentry_merchant_id_kind_value` ON `risk_list_entries` (`merchant_id`, `kind`, `value`);
-- Create "sales" table
CREATE TABLE `sales` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `idempotency_key` text NOT NULL, `request_hash` text NOT NULL, `receipt_number` integer NOT NULL, `status` text NOT NULL DEFAULT ('COMPLETED'), `currency` text NOT NULL, `subtotal` integer NOT NULL, `order_discount` integer NOT NULL, `discount_total` integer NOT NULL, `tax_total` integer NOT NULL, `total` integer NOT NULL, `change_due` integer NOT NULL, `refunded_total` integer NOT NULL DEFAULT (0), `prices_include_tax` bool NOT NULL, `occurred_at` datetime NOT NULL, `business_date` text NOT NULL, `offline` bool NOT NULL DEFAULT (false), `note` text NULL, `frozen` bool NOT NULL DEFAULT (false), `frozen_reason` text NULL, `frozen_at` datetime NULL, `risk_decision` text NOT NULL DEFAULT ('ALLOW'), `risk_hits` json NULL, `discounts` json NULL, `review_status` text NOT NULL DEFAULT ('NONE'), `voided_at` datetime NULL, `new_customer` bool NOT NULL DEFAULT (false), `customer_id` text NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, `cashier_id` text NOT NULL, `device_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `sales_customers_sales` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE SET NULL, CONSTRAINT `sales_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `sales_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `sales_staffs_cashier` FOREIGN KEY (`cashier_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION, CONSTRAINT `sales_devices_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE SET NULL);
-- Create index "sale_merchant_id" to table: "sales"
CREATE INDEX `sale_merchant_id` ON `sales` (`merchant_id`);
-- Create index "sale_merchant_id_idempotency_key" to table: "sales"
CREATE UNIQUE INDEX `sale_merchant_id_idempotency_key` ON `sales` (`merchant_id`, `idempotency_key`);
-- Create index "sale_store_id_receipt_number" to table: "sales"
CREATE UNIQUE INDEX `sale_store_id_receipt_number` ON `sales` (`store_id`, `receipt_number`);
-- Create index "sale_merchant_id_occurred_at" to table: "sales"
CREATE INDEX `sale_merchant_id_occurred_at` ON `sales` (`merchant_id`, `occurred_at`);
-- Create index "sale_merchant_id_store_id_occurred_at" to table: "sales"
CREATE INDEX `sale_merchant_id_store_id_occurred_at` ON `sales` (`merchant_id`, `store_id`, `occurred_at`);
-- Create index "sale_merchant_id_customer_id_occurred_at" to table: "sales"
CREATE INDEX `sale_merchant_id_customer_id_occurred_at` ON `sales` (`merchant_id`, `customer_id`, `occurred_at`);
-- Create index "sale_merchant_id_cashier_id_occurred_at" to table: "sales"
CREATE INDEX `sale_merchant_id_cashier_id_occurred_at` ON `sales` (`merchant_id`, `cashier_id`, `occurred_at`);
-- Create index "sale_merchant_id_device_id_occurred_at" to table: "sales"
CREATE INDEX `sale_merchant_id_device_id_occurred_at` ON `sales` (`merchant_id`, `device_id`, `occurred_at`);
-- Create index "sale_merchant_id_review_status" to table: "sales"
CREATE INDEX `sale_merchant_id_review_status` ON `sales` (`merchant_id`, `review_status`);
-- Create "sale_counters" table
CREATE TABLE `sale_counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `store_id` text NOT NULL, `last_receipt_number` integer NOT NULL DEFAULT (0), `sales_count` integer NOT NULL DEFAULT (0), `sales_amount` integer NOT NULL DEFAULT (0), `merchant_id` text NOT NULL, CONSTRAINT `sale_counters_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "sale_counters_store_id_key" to table: "sale_counters"
CREATE UNIQUE INDEX `sale_counters_store_id_key` ON `sale_counters` (`store_id`);
-- Create index "salecounter_merchant_id" to table: "sale_counters"
CREATE INDEX `salecounter_merchant_id` ON `sale_counters` (`merchant_id`);
-- Create "sale_lines" table
CREATE TABLE `sale_lines` (`id` text NOT NULL, `position` integer NOT NULL, `sku` text NULL, `name` text NOT NULL, `category` text NULL, `quantity` integer NOT NULL, `unit_price` integer NOT NULL, `line_discount` integer NOT NULL, `order_discount` integer NOT NULL, `tax_rate_bp` integer NOT NULL, `tax` integer NOT NULL, `total` integer NOT NULL, `unit_cost` integer NULL, `refunded_quantity` integer NOT NULL DEFAULT (0), `refunded_amount` integer NOT NULL DEFAULT (0), `sale_id` text NOT NULL, `merchant_id` text NOT NULL, `product_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `sale_lines_sales_lines` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE NO ACTION, CONSTRAINT `sale_lines_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `sale_lines_products_product` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`) ON DELETE SET NULL);
-- Create index "saleline_merchant_id" to table: "sale_lines"
CREATE INDEX `saleline_merchant_id` ON `sale_lines` (`merchant_id`);
-- Create index "saleline_merchant_id_sale_id" to table: "sale_lines"
CREATE INDEX `saleline_merchant_id_sale_id` ON `sale_lines` (`merchant_id`, `sale_id`);
-- Create index "saleline_product_id_id" to table: "sale_lines"
CREATE INDEX `saleline_product_id_id` ON `sale_lines` (`product_id`, `id`);
-- Create index "saleline_merchant_id_id" to table: "sale_lines"
CREATE INDEX `saleline_merchant_id_id` ON `sale_lines` (`merchant_id`, `id`);
-- Create "sales_facet_days" table
CREATE TABLE `sales_facet_days` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `sales_count` integer NOT NULL DEFAULT (0), `sales_total` integer NOT NULL DEFAULT (0), `discount_total` integer NOT NULL DEFAULT (0), `tax_total` integer NOT NULL DEFAULT (0), `items_sold` integer NOT NULL DEFAULT (0), `refunds_count` integer NOT NULL DEFAULT (0), `refund_amount` integer NOT NULL DEFAULT (0), `refund_tax` integer NOT NULL DEFAULT (0), `items_returned` integer NOT NULL DEFAULT (0), `voids_count` integer NOT NULL DEFAULT (0), `void_amount` integer NOT NULL DEFAULT (0), `new_customers` integer NOT NULL DEFAULT (0), `returning_visits` integer NOT NULL DEFAULT (0), `store_id` text NOT NULL, `business_date` text NOT NULL, `dimension` text NOT NULL, `key` text NOT NULL, `merchant_id` text NOT NULL, CONSTRAINT `sales_facet_days_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "salesfacetday_merchant_id" to table: "sales_facet_days"
CREATE INDEX `salesfacetday_merchant_id` ON `sales_facet_days` (`merchant_id`);
-- Create index "salesfacetday_merchant_id_store_id_business_date_dimension_key" to table: "sales_facet_days"
CREATE UNIQUE INDEX `salesfacetday_merchant_id_store_id_business_date_dimension_key` ON `sales_facet_days` (`merchant_id`, `store_id`, `business_date`, `dimension`, `key`);
-- Create "sales_hours" table
CREATE TABLE `sales_hours` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `sales_count` integer NOT NULL DEFAULT (0), `sales_total` integer NOT NULL DEFAULT (0), `discount_total` integer NOT NULL DEFAULT (0), `tax_total` integer NOT NULL DEFAULT (0), `items_sold` integer NOT NULL DEFAULT (0), `refunds_count` integer NOT NULL DEFAULT (0), `refund_amount` integer NOT NULL DEFAULT (0), `refund_tax` integer NOT NULL DEFAULT (0), `items_returned` integer NOT NULL DEFAULT (0), `voids_count` integer NOT NULL DEFAULT (0), `void_amount` integer NOT NULL DEFAULT (0), `new_customers` integer NOT NULL DEFAULT (0), `returning_visits` integer NOT NULL DEFAULT (0), `store_id` text NOT NULL, `business_date` text NOT NULL, `hour` integer NOT NULL, `merchant_id` text NOT NULL, CONSTRAINT `sales_hours_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "saleshour_merchant_id" to table: "sales_hours"
CREATE INDEX `saleshour_merchant_id` ON `sales_hours` (`merchant_id`);
-- Create index "saleshour_merchant_id_store_id_business_date_hour" to table: "sales_hours"
CREATE UNIQUE INDEX `saleshour_merchant_id_store_id_business_date_hour` ON `sales_hours` (`merchant_id`, `store_id`, `business_date`, `hour`);
-- Create "sales_settings" table
CREATE TABLE `sales_settings` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `prices_include_tax` bool NOT NULL DEFAULT (true), `accepted_tenders` json NOT NULL, `max_sale_amount` integer NULL, `max_refund_per_cashier_day` integer NULL, `customer_daily_limit` integer NULL, `refund_to_cash_allowed` bool NOT NULL DEFAULT (false), `large_ticket_action` text NOT NULL DEFAULT ('FLAG'), `large_ticket_factor` integer NOT NULL DEFAULT (10), `large_ticket_min_sales` integer NOT NULL DEFAULT (20), `velocity_action` text NOT NULL DEFAULT ('FLAG'), `velocity_max` integer NOT NULL DEFAULT (3), `velocity_window_minutes` integer NOT NULL DEFAULT (10), `refund_ratio_action` text NOT NULL DEFAULT ('FLAG'), `refund_ratio_percent` integer NOT NULL DEFAULT (30), `refund_ratio_min_sales` integer NOT NULL DEFAULT (100000), `blacklist_action` text NOT NULL DEFAULT ('DECLINE'), `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sales_settings_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "salessettings_merchant_id" to table: "sales_settings"
CREATE INDEX `salessettings_merchant_id` ON `sales_settings` (`merchant_id`);
-- Create index "sales_settings_one_per_merchant" to table: "sales_settings"
CREATE UNIQUE INDEX `sales_settings_one_per_merchant` ON `sales_settings` (`merchant_id`);
-- Create "saved_segments" table
CREATE TABLE `saved_segments` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `any_tags` json NULL, `min_spent` integer NULL, `max_spent` integer NULL, `last_visit_after` datetime NULL, `last_visit_before` datetime NULL, `birthday_month` integer NULL, `segment` text NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `saved_segments_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "savedsegment_merchant_id" to table: "saved_segments"
CREATE INDEX `savedsegment_merchant_id` ON `saved_segments` (`merchant_id`);
-- Create "segment_rules" table
CREATE TABLE `segment_rules` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `mode` text NOT NULL DEFAULT ('QUINTILES'), `recency_days` json NOT NULL, `frequency_visits` json NOT NULL, `monetary_spent` json NOT NULL, `new_days` integer NOT NULL DEFAULT (30), `computed_at` datetime NULL, `merchant_id` text NOT NULL, CONSTRAINT `segment_rules_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "segmentrules_merchant_id" to table: "segment_rules"
CREATE INDEX `segmentrules_merchant_id` ON `segment_rules` (`merchant_id`);
-- Create index "segment_rules_one_per_merchant" to table: "segment_rules"
CREATE UNIQUE INDEX `segment_rules_one_per_merchant` ON `segment_rules` (`merchant_id`);
-- Create "settlements" table
CREATE TABLE `settlements` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `business_date` text NOT NULL, `channel` text NOT NULL, `count` integer NOT NULL, `sales_amount` integer NOT NULL, `refund_count` integer NOT NULL, `refunds_amount` integer NOT NULL, `amount` integer NOT NULL, `fee_rate_bp` integer NOT NULL, `fixed_fee` integer NOT NULL, `fees` integer NOT NULL, `net_to_bank` integer NOT NULL, `day_close_id` text NOT NULL, `merchant_id` text NOT NULL, `store_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `settlements_day_closes_settlements` FOREIGN KEY (`day_close_id`) REFERENCES `day_closes` (`id`) ON DELETE NO ACTION, CONSTRAINT `settlements_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `settlements_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "settlement_merchant_id" to table: "settlements"
CREATE INDEX `settlement_merchant_id` ON `settlements` (`merchant_id`);
-- Create index "settlement_store_id_business_date_channel" to table: "settlements"
CREATE UNIQUE INDEX `settlement_store_id_business_date_channel` ON `settlements` (`store_id`, `business_date`, `channel`);
-- Create index "settlement_merchant_id_channel_business_date" to table: "settlements"
CREATE INDEX `settlement_merchant_id_channel_business_date` ON `settlements` (`merchant_id`, `channel`, `business_date`);
-- Create "settlement_channels" table
CREATE TABLE `settlement_channels` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `channel` text NOT NULL, `fee_rate_bp` integer NOT NULL, `fixed_fee` integer NOT NULL, `statement` json NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `settlement_channels_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "settlementchannel_merchant_id" to table: "settlement_channels"
CREATE INDEX `settlementchannel_merchant_id` ON `settlement_channels` (`merchant_id`);
-- Create index "settlementchannel_merchant_id_channel" to table: "settlement_channels"
CREATE UNIQUE INDEX `settlementchannel_merchant_id_channel` ON `settlement_channels` (`merchant_id`, `channel`);
-- Create "staffs" table
CREATE TABLE `staffs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `email` text NULL, `phone` text NULL, `role` text NOT NULL, `password_hash` text NULL, `pin_hash` text NULL, `active` bool NOT NULL DEFAULT (true), `password_changed_at` datetime NULL, `last_login_at` datetime NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `staffs_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "staff_merchant_id" to table: "staffs"
CREATE INDEX `staff_merchant_id` ON `staffs` (`merchant_id`);
-- Create index "staff_email" to table: "staffs"
CREATE UNIQUE INDEX `staff_email` ON `staffs` (`email`);
-- Create "staff_days" table
CREATE TABLE `staff_days` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `staff_id` text NOT NULL, `business_date` text NOT NULL, `sales_amount` integer NOT NULL DEFAULT (0), `refunds_amount` integer NOT NULL DEFAULT (0), `merchant_id` text NOT NULL, CONSTRAINT `staff_days_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "staffday_merchant_id" to table: "staff_days"
CREATE INDEX `staffday_merchant_id` ON `staff_days` (`merchant_id`);
-- Create index "staffday_staff_id_business_date" to table: "staff_days"
CREATE UNIQUE INDEX `staffday_staff_id_business_date` ON `staff_days` (`staff_id`, `business_date`);
-- Create "statement_imports" table
CREATE TABLE `statement_imports` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `channel` text NOT NULL, `store_id` text NULL, `imported_by_id` text NOT NULL, `from_date` text NOT NULL, `to_date` text NOT NULL, `line_count` integer NOT NULL, `matched` integer NOT NULL, `missing_on_our_side` integer NOT NULL, `missing_on_theirs` integer NOT NULL, `amount_mismatches` integer NOT NULL, `lines` json NOT NULL, `days` json NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `statement_imports_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "statementimport_merchant_id" to table: "statement_imports"
CREATE INDEX `statementimport_merchant_id` ON `statement_imports` (`merchant_id`);
-- Create index "statementimport_merchant_id_channel_created_at" to table: "statement_imports"
CREATE INDEX `statementimport_merchant_id_channel_created_at` ON `statement_imports` (`merchant_id`, `channel`, `created_at`);
-- Create "stores" table
CREATE TABLE `stores` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `address` text NULL, `time_zone` text NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `stores_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "store_merchant_id" to table: "stores"
CREATE INDEX `store_merchant_id` ON `stores` (`merchant_id`);
-- Create "stored_value_accounts" table
CREATE TABLE `stored_value_accounts` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `balance` integer NOT NULL DEFAULT (0), `bonus_balance` integer NOT NULL DEFAULT (0), `merchant_id` text NOT NULL, `customer_id` text NOT NULL, `store_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `stored_value_accounts_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_accounts_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_accounts_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION);
-- Create index "storedvalueaccount_merchant_id" to table: "stored_value_accounts"
CREATE INDEX `storedvalueaccount_merchant_id` ON `stored_value_accounts` (`merchant_id`);
-- Create index "storedvalueaccount_customer_id" to table: "stored_value_accounts"
CREATE UNIQUE INDEX `storedvalueaccount_customer_id` ON `stored_value_accounts` (`customer_id`);
-- Create index "storedvalueaccount_merchant_id_store_id" to table: "stored_value_accounts"
CREATE INDEX `storedvalueaccount_merchant_id_store_id` ON `stored_value_accounts` (`merchant_id`, `store_id`);
-- Create "stored_value_entries" table
CREATE TABLE `stored_value_entries` (`id` text NOT NULL, `kind` text NOT NULL, `amount` integer NOT NULL, `bonus_amount` integer NOT NULL, `reason` text NULL, `idempotency_key` text NULL, `request_hash` text NULL, `created_at` datetime NOT NULL, `merchant_id` text NOT NULL, `account_id` text NOT NULL, `store_id` text NULL, `staff_id` text NOT NULL, `device_id` text NULL, `top_up_id` text NULL, `sale_id` text NULL, `tender_id` text NULL, `refund_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `stored_value_entries_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_entries_stored_value_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `stored_value_accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_entries_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE SET NULL, CONSTRAINT `stored_value_entries_staffs_staff` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_entries_devices_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE SET NULL, CONSTRAINT `stored_value_entries_stored_value_top_ups_top_up` FOREIGN KEY (`top_up_id`) REFERENCES `stored_value_top_ups` (`id`) ON DELETE SET NULL, CONSTRAINT `stored_value_entries_sales_sale` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE SET NULL, CONSTRAINT `stored_value_entries_tenders_tender` FOREIGN KEY (`tender_id`) REFERENCES `tenders` (`id`) ON DELETE SET NULL, CONSTRAINT `stored_value_entries_refunds_refund` FOREIGN KEY (`refund_id`) REFERENCES `refunds` (`id`) ON DELETE SET NULL);
-- Create index "storedvalueentry_merchant_id" to table: "stored_value_entries"
CREATE INDEX `storedvalueentry_merchant_id` ON `stored_value_entries` (`merchant_id`);
-- Create index "storedvalueentry_merchant_id_account_id_created_at" to table: "stored_value_entries"
CREATE INDEX `storedvalueentry_merchant_id_account_id_created_at` ON `stored_value_entries` (`merchant_id`, `account_id`, `created_at`);
-- Create index "storedvalueentry_merchant_id_tender_id" to table: "stored_value_entries"
CREATE INDEX `storedvalueentry_merchant_id_tender_id` ON `stored_value_entries` (`merchant_id`, `tender_id`);
-- Create index "storedvalueentry_merchant_id_idempotency_key" to table: "stored_value_entries"
CREATE UNIQUE INDEX `storedvalueentry_merchant_id_idempotency_key` ON `stored_value_entries` (`merchant_id`, `idempotency_key`);
-- Create "stored_value_settings" table
CREATE TABLE `stored_value_settings` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `bonus_tiers` json NOT NULL, `refund_to_balance_allowed` bool NOT NULL DEFAULT (false), `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `stored_value_settings_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "storedvaluesettings_merchant_id" to table: "stored_value_settings"
CREATE INDEX `storedvaluesettings_merchant_id` ON `stored_value_settings` (`merchant_id`);
-- Create index "stored_value_settings_one_per_merchant" to table: "stored_value_settings"
CREATE UNIQUE INDEX `stored_value_settings_one_per_merchant` ON `stored_value_settings` (`merchant_id`);
-- Create "stored_value_top_ups" table
CREATE TABLE `stored_value_top_ups` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `idempotency_key` text NOT NULL, `request_hash` text NOT NULL, `amount` integer NOT NULL, `bonus` integer NOT NULL, `bonus_tier` json NULL, `currency` text NOT NULL, `tender_type` text NOT NULL, `tendered` integer NULL, `change` integer NOT NULL DEFAULT (0), `card_type` text NULL, `card_brand` text NULL, `card_last4` text NULL, `wallet` text NULL, `reference` text NULL, `merchant_id` text NOT NULL, `account_id` text NOT NULL, `customer_id` text NOT NULL, `store_id` text NOT NULL, `staff_id` text NOT NULL, `device_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `stored_value_top_ups_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_top_ups_stored_value_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `stored_value_accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_top_ups_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_top_ups_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_top_ups_staffs_staff` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE NO ACTION, CONSTRAINT `stored_value_top_ups_devices_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE SET NULL);
-- Create index "storedvaluetopup_merchant_id" to table: "stored_value_top_ups"
CREATE INDEX `storedvaluetopup_merchant_id` ON `stored_value_top_ups` (`merchant_id`);
-- Create index "storedvaluetopup_merchant_id_idempotency_key" to table: "stored_value_top_ups"
CREATE UNIQUE INDEX `storedvaluetopup_merchant_id_idempotency_key` ON `stored_value_top_ups` (`merchant_id`, `idempotency_key`);
-- Create index "storedvaluetopup_merchant_id_account_id" to table: "stored_value_top_ups"
CREATE INDEX `storedvaluetopup_merchant_id_account_id` ON `stored_value_top_ups` (`merchant_id`, `account_id`);
-- Create index "storedvaluetopup_merchant_id_customer_id" to table: "stored_value_top_ups"
CREATE INDEX `storedvaluetopup_merchant_id_customer_id` ON `stored_value_top_ups` (`merchant_id`, `customer_id`);
-- Create "tenders" table
CREATE TABLE `tenders` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `type` text NOT NULL, `amount` integer NOT NULL, `tendered` integer NULL, `change` integer NOT NULL DEFAULT (0), `card_type` text NULL, `card_brand` text NULL, `card_last4` text NULL, `wallet` text NULL, `reference` text NULL, `refunded_amount` integer NOT NULL DEFAULT (0), `sale_id` text NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `tenders_sales_tenders` FOREIGN KEY (`sale_id`) REFERENCES `sales` (`id`) ON DELETE NO ACTION, CONSTRAINT `tenders_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "tender_merchant_id" to table: "tenders"
CREATE INDEX `tender_merchant_id` ON `tenders` (`merchant_id`);
-- Create index "tender_merchant_id_sale_id" to table: "tenders"
CREATE INDEX `tender_merchant_id_sale_id` ON `tenders` (`merchant_id`, `sale_id`);
-- Create index "tender_merchant_id_reference_created_at" to table: "tenders"
CREATE INDEX `tender_merchant_id_reference_created_at` ON `tenders` (`merchant_id`, `reference`, `created_at`);
-- Create "tickets" table
CREATE TABLE `tickets` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `fault_category` text NULL, `title` text NOT NULL, `description` text NOT NULL, `status` text NOT NULL DEFAULT ('OPEN'), `priority` text NOT NULL DEFAULT ('NORMAL'), `reporter_kind` text NOT NULL, `reporter_id` text NOT NULL, `sla_due_at` datetime NOT NULL, `resolved_at` datetime NULL, `closed_at` datetime NULL, `idempotency_key` text NULL, `request_hash` text NULL, `merchant_id` text NOT NULL, `device_id` text NULL, `store_id` text NULL, `assignee_id` text NULL, `replacement_device_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `tickets_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION, CONSTRAINT `tickets_devices_device` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`) ON DELETE SET NULL, CONSTRAINT `tickets_stores_store` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE SET NULL, CONSTRAINT `tickets_operators_assignee` FOREIGN KEY (`assignee_id`) REFERENCES `operators` (`id`) ON DELETE SET NULL, CONSTRAINT `tickets_devices_replacement_device` FOREIGN KEY (`replacement_device_id`) REFERENCES `devices` (`id`) ON DELETE SET NULL);
-- Create index "ticket_merchant_id" to table: "tickets"
CREATE INDEX `ticket_merchant_id` ON `tickets` (`merchant_id`);
-- Create index "ticket_merchant_id_status_sla_due_at" to table: "tickets"
CREATE INDEX `ticket_merchant_id_status_sla_due_at` ON `tickets` (`merchant_id`, `status`, `sla_due_at`);
-- Create index "ticket_merchant_id_store_id_created_at" to table: "tickets"
CREATE INDEX `ticket_merchant_id_store_id_created_at` ON `tickets` (`merchant_id`, `store_id`, `created_at`);
-- Create index "ticket_merchant_id_device_id" to table: "tickets"
CREATE INDEX `ticket_merchant_id_device_id` ON `tickets` (`merchant_id`, `device_id`);
-- Create index "ticket_status_sla_due_at" to table: "tickets"
CREATE INDEX `ticket_status_sla_due_at` ON `tickets` (`status`, `sla_due_at`);
-- Create index "ticket_assignee_id_status" to table: "tickets"
CREATE INDEX `ticket_assignee_id_status` ON `tickets` (`assignee_id`, `status`);
-- Create index "ticket_reporter_id_idempotency_key" to table: "tickets"
CREATE UNIQUE INDEX `ticket_reporter_id_idempotency_key` ON `tickets` (`reporter_id`, `idempotency_key`);
-- Create "ticket_comments" table
CREATE TABLE `ticket_comments` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `author_kind` text NOT NULL, `author_id` text NOT NULL, `body` text NOT NULL, `internal` bool NOT NULL DEFAULT (false), `ticket_id` text NOT NULL, `merchant_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `ticket_comments_tickets_comments` FOREIGN KEY (`ticket_id`) REFERENCES `tickets` (`id`) ON DELETE NO ACTION, CONSTRAINT `ticket_comments_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON DELETE NO ACTION);
-- Create index "ticketcomment_merchant_id" to table: "ticket_comments"
CREATE INDEX `ticketcomment_merchant_id` ON `ticket_comments` (`merchant_id`);
-- Create index "ticketcomment_merchant_id_ticket_id" to table: "ticket_comments"
CREATE INDEX `ticketcomment_merchant_id_ticket_id` ON `ticket_comments` (`merchant_id`, `ticket_id`);
-- Create "staff_stores" table
CREATE TABLE `staff_stores` (`staff_id` text NOT NULL, `store_id` text NOT NULL, PRIMARY KEY (`staff_id`, `store_id`), CONSTRAINT `staff_stores_staff_id` FOREIGN KEY (`staff_id`) REFERENCES `staffs` (`id`) ON DELETE CASCADE, CONSTRAINT `staff_stores_store_id` FOREIGN KEY (`store_id`) REFERENCES `stores` (`id`) ON DELETE CASCADE);
