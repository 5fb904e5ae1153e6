terraform {
  # 1.9: a variable's validation may refer to another variable (archive_prefix vs prefix).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.70: transition_default_minimum_object_size on the lifecycle configuration.
      # Tested with 5.100.0.
      version = ">= 5.70, < 6.0"
    }
  }
}
