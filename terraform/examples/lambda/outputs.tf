output "function_name" {
  description = "Name of the agent's Lambda function."
  value       = aws_lambda_function.agent.function_name
}

output "role_arn" {
  description = "ARN of the agent's execution role."
  value       = aws_iam_role.agent.arn
}

output "s3saver_url" {
  description = "Where the agent checkpoints (also in its S3SAVER_URL environment variable)."
  value       = module.checkpoints.s3saver_url
}
