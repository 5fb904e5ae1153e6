terraform {
  # 1.9: a variable's validation may refer to another variable (archive_prefix vs prefix).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: the split S3 bucket resources (versioning, encryption, lifecycle ... as their own
      # resources). Tested with 5.100.0.
      version = ">= 5.0, < 6.0"
    }
  }
}
