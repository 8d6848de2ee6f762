using System.Security.Cryptography.X509Certificates;

namespace Rpc.Transports;

/// <summary>
/// Who is on the other end of a connection, as far as the transport can tell: the process, user
/// and group of a local peer (from <c>SO_PEERCRED</c> or the pipe's peer), the client certificate
/// of a TLS peer. A field the transport cannot know is <see langword="null"/>.
/// </summary>
public sealed record PeerIdentity
{
    /// <summary>The peer's process id, for a local peer.</summary>
    public int? ProcessId { get; init; }

    /// <summary>The peer's effective user id, for a local peer.</summary>
    public uint? UserId { get; init; }

    /// <summary>The peer's effective group id, for a local peer.</summary>
    public uint? GroupId { get; init; }

    /// <summary>The certificate the peer presented in a TLS handshake.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Whether the peer is a process on this host, known by the operating system.</summary>
    public bool IsLocal => UserId is not null;
}
