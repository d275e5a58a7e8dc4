"""Checks of the deploy/ files: image, compose and Kubernetes manifests, parsed without a Docker engine."""
