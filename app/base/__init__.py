"""The ground floor: what every other part of supervise stands on. It imports only rules/ and libraries."""
