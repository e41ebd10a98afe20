"""What gpuopt writes for people and clusters: terminal tables (tables), Markdown and HTML
reports (documents), PNG plots (plots) and Kubernetes manifests (k8s)."""
