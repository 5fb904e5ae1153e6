data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # ARNs are built from the name (not read from the bucket resource) so that the policy
  # documents are known at plan time: reviewable in `terraform plan` before anything exists.
  bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
  prefix_arn  = "${local.bucket_arn}/${var.prefix}*"
  use_kms     = var.kms_key_arn != null
  policy_name = coalesce(var.policy_name, "s3saver-${var.bucket_name}")

  # Objects up to this size are never transitioned: IA and Glacier IR bill each object as at
  # least 128 KiB, Glacier and Deep Archive add per-object overhead.
  archive_min_object_bytes = 131072
}

# ---------------------------------------------------------------------------------------------
# The bucket
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost for agent working state; a team that needs it adds its own replication configuration.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default on purpose (no per-request KMS cost or quota); SSE-KMS with a bucket key is one variable away (kms_key_arn).
  #checkov:skip=CKV2_AWS_62:s3saver needs no event notifications; a team that wants them adds them.
  #checkov:skip=CKV_AWS_18:Access logging is opt-in (access_log_bucket) because it needs a separate log bucket the team owns; aws_s3_bucket_logging.this enables it.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    # ACLs disabled: the bucket owner owns every object, access is by policy only.
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    # A bucket key cuts KMS requests (and their cost) by reusing a bucket-level data key.
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = coalesce(var.access_log_prefix, "s3-access/${var.bucket_name}/")
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  # S3 rejects a policy change while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:False positive: checkov drops the static rule blocks when dynamic rule blocks follow them (seen when the module is called from examples/lambda); the first rule below aborts incomplete multipart uploads, asserted by tests/test_terraform.py.
  bucket = aws_s3_bucket.this.id

  # The S3 default since 2024, stated so that it holds whatever the account or region default:
  # no lifecycle transition applies to objects smaller than 128 KiB.
  transition_default_minimum_object_size = "all_storage_classes_128K"

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    # Once its last noncurrent version is gone, a delete marker is removed too.
    expiration {
      expired_object_delete_marker = true
    }
  }

  dynamic "rule" {
    for_each = var.checkpoint_expiration_days == null ? [] : [var.checkpoint_expiration_days]

    content {
      id     = "expire-checkpoints"
      status = "Enabled"

      filter {
        prefix = var.prefix
      }

      expiration {
        days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = var.archive_prefix == null ? [] : [var.archive_prefix]

    content {
      id     = "archive-transition"
      status = "Enabled"

      # Only large objects under the separate archive prefix: IA and Glacier IR bill each object
      # as at least 128 KiB, Glacier and Deep Archive add per-object overhead, so moving small
      # objects costs more than it saves.
      filter {
        and {
          prefix                   = rule.value
          object_size_greater_than = local.archive_min_object_bytes
        }
      }

      transition {
        days          = var.archive_transition_days
        storage_class = var.archive_storage_class
      }
    }
  }

  # Lifecycle rules only act on current versions once versioning is in place.
  depends_on = [aws_s3_bucket_versioning.this]
}

# ---------------------------------------------------------------------------------------------
# What the saver may do: its prefix, nothing else
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "saver" {
  statement {
    sid       = "ListSaverPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}*"]
    }
  }

  statement {
    # Covers GetObject/HeadObject, PutObject (also conditional and multipart writes), CopyObject
    # within the prefix (read source + write destination), DeleteObject and DeleteObjects.
    sid       = "ReadWriteSaverPrefix"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.prefix_arn]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [var.kms_key_arn] : []

    content {
      sid       = "UseBucketKmsKeyViaS3"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "saver" {
  count = var.role_name == null ? 0 : 1

  name   = local.policy_name
  role   = var.role_name
  policy = data.aws_iam_policy_document.saver.json
}
