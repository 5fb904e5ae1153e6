variable "bucket_name" {
  description = "Name of the bucket to create. Bucket names are global: include your account or org."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots and hyphens."
  }
}

variable "prefix" {
  description = <<-EOT
    Key prefix the saver writes under (its threads/, index/ and runs/ live below it). The IAM
    policy grants access to this prefix only. Must end with "/"; no wildcards.
  EOT
  type        = string
  default     = "checkpoints/"

  validation {
    # Each segment is non-empty and made of characters that are literal in an IAM resource ARN:
    # no "*" or "?" (wildcards that would widen the grant) and no "$" (policy variables).
    condition     = can(regex("^([A-Za-z0-9!_.'()-]+/)+$", var.prefix))
    error_message = "prefix must be one or more non-empty segments each ending in \"/\" (e.g. \"checkpoints/\"), using only letters, digits and !_.'()- (no wildcards)."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key for SSE-KMS (with an S3 Bucket Key). null (the default) uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:...:kms:REGION:ACCOUNT:key/ID), not an alias: IAM grants on key use need the key ARN."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which an overwritten or deleted (noncurrent) object version is permanently removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number >= 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted (their parts are billed until then)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number >= 1."
  }
}

variable "checkpoint_expiration_days" {
  description = <<-EOT
    Retention: expire every object under `prefix` this many days after it was last written
    (null, the default, keeps checkpoints until the saver prunes them). A thread not written to
    for this long disappears, so set it above the longest time a thread may need to be resumed.
    The expired objects become noncurrent versions and are removed after a further
    noncurrent_version_expiration_days.
  EOT
  type        = number
  default     = null

  validation {
    condition     = var.checkpoint_expiration_days == null || try(var.checkpoint_expiration_days >= 1 && floor(var.checkpoint_expiration_days) == var.checkpoint_expiration_days, false)
    error_message = "checkpoint_expiration_days must be null or a whole number >= 1."
  }
}

variable "archive_prefix" {
  description = <<-EOT
    Optional separate prefix for archives (e.g. exported thread bundles) to move to a colder
    storage class. Must not overlap `prefix`: the saver's small per-checkpoint objects are never
    transitioned. null (the default) creates no transition rule.
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.archive_prefix == null || can(regex("^([A-Za-z0-9!_.'()-]+/)+$", var.archive_prefix))
    error_message = "archive_prefix must be null or one or more non-empty segments each ending in \"/\" (no wildcards)."
  }

  validation {
    condition = var.archive_prefix == null || !(
      startswith(coalesce(var.archive_prefix, "-"), var.prefix) ||
      startswith(var.prefix, coalesce(var.archive_prefix, "-"))
    )
    error_message = "archive_prefix must not overlap prefix: the saver's per-checkpoint objects must never be transitioned to an archive tier."
  }
}

variable "archive_transition_days" {
  description = "Days after creation at which objects under archive_prefix move to archive_storage_class."
  type        = number
  default     = 90

  validation {
    condition     = var.archive_transition_days >= 0 && floor(var.archive_transition_days) == var.archive_transition_days
    error_message = "archive_transition_days must be a whole number >= 0."
  }
}

variable "archive_storage_class" {
  description = "Storage class for objects under archive_prefix: GLACIER_IR (default, millisecond reads), GLACIER, DEEP_ARCHIVE, STANDARD_IA, ONEZONE_IA or INTELLIGENT_TIERING."
  type        = string
  default     = "GLACIER_IR"

  validation {
    condition     = contains(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING"], var.archive_storage_class)
    error_message = "archive_storage_class must be one of GLACIER_IR, GLACIER, DEEP_ARCHIVE, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING."
  }
}

variable "role_name" {
  description = <<-EOT
    Name of an existing IAM role (e.g. a Lambda execution role) to attach the saver policy to, as
    an inline policy. null (the default) attaches nothing; use the `policy_json` output yourself.
    The name must be known at plan time (a literal, or a role whose `name` is set explicitly).
  EOT
  type        = string
  default     = null
}

variable "policy_name" {
  description = "Name of the inline role policy (when role_name is set). Defaults to \"s3saver-<bucket_name>\"."
  type        = string
  default     = null
}

variable "access_log_bucket" {
  description = "Optional existing bucket to receive S3 server access logs for this bucket. null (the default) turns access logging off."
  type        = string
  default     = null
}

variable "access_log_prefix" {
  description = "Key prefix for access log objects in access_log_bucket. Defaults to \"s3-access/<bucket_name>/\"."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket with all its checkpoints and versions in it. Leave false outside tests."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
