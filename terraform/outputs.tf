output "bucket_name" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "prefix" {
  description = "Key prefix the saver writes under (ends with \"/\")."
  value       = var.prefix
}

output "policy_json" {
  description = "IAM policy document (JSON) granting exactly what s3saver needs on its prefix; attach it to any principal."
  value       = data.aws_iam_policy_document.saver.json
}

output "role_policy_name" {
  description = "Name of the inline policy attached to role_name, or null when no role was named."
  value       = one(aws_iam_role_policy.saver[*].name)
}

output "s3saver_url" {
  description = "The URL to give s3saver: S3CheckpointSaver.from_url(url)."
  value       = "s3://${aws_s3_bucket.this.id}/${var.prefix}"
}
