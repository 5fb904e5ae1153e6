variable "region" {
  description = "AWS region for the bucket, the role and the function."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the agent: names the role and the function, and prefixes the bucket."
  type        = string
  default     = "s3saver-agent"
}

variable "bucket_name" {
  description = "Bucket to create for the checkpoints (globally unique)."
  type        = string
}

variable "package_path" {
  description = "Path to the function's .zip: your handler plus s3saver and its dependencies (see README.md)."
  type        = string
}

variable "handler" {
  description = "Function entry point inside the package."
  type        = string
  default     = "agent.handler"
}

variable "checkpoint_expiration_days" {
  description = "Retention for checkpoints (null keeps them until pruned)."
  type        = number
  default     = 90
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions: caps the agent's parallelism (and its spend)."
  type        = number
  default     = 10
}
