"""The static members file: what write_members writes, StaticDiscovery reads back."""

from __future__ import annotations

from pathlib import Path

from services.routing.discovery import StaticDiscovery, write_members


def test_written_members_are_read_back_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    peers = tmp_path / "run" / "peers"
    discovery = StaticDiscovery(file=peers)
    write_members(peers, ["10.0.0.2:80", "10.0.0.1:80"])
    assert discovery.members() == ["10.0.0.1:80", "10.0.0.2:80"]
    write_members(peers, ["10.0.0.3:80"])
    assert discovery.members() == ["10.0.0.3:80"]
    write_members(peers, [])
    assert discovery.members() == []
    assert [p.name for p in peers.parent.iterdir()] == ["peers"]
