using System.Buffers.Binary;
using System.Net.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Who is at the other end of a control socket, as the kernel says (SO_PEERCRED: the credentials
/// the peer had when it connected or listened), and whether a listener lets them in.
/// </summary>
internal static class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The peer's pid, uid and gid.</summary>
    public static PeerIdentity Read(Socket socket)
    {
        Span<byte> credentials = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        if (length < 12)
        {
            throw new IOException($"SO_PEERCRED returned {length} bytes.");
        }

        return new PeerIdentity
        {
            ProcessId = BinaryPrimitives.ReadInt32LittleEndian(credentials),
            UserId = BinaryPrimitives.ReadUInt32LittleEndian(credentials[4..]),
            GroupId = BinaryPrimitives.ReadUInt32LittleEndian(credentials[8..]),
        };
    }

    /// <summary>Why <paramref name="peer"/> may not connect under <paramref name="options"/>; <see langword="null"/> when it may.</summary>
    public static string? Refusal(PeerIdentity peer, ListenOptions options, uint ownUserId)
    {
        if (options.AllowAnyUser || peer.UserId == ownUserId ||
            (peer.UserId is { } uid && options.AllowedUserIds.Contains(uid)) ||
            (peer.GroupId is { } gid && options.AllowedGroupIds.Contains(gid)))
        {
            return null;
        }

        return $"uid {peer.UserId} (gid {peer.GroupId}) is not allowed to connect; the server allows its own user ({ownUserId}) and those in its ListenOptions.";
    }

    /// <summary>The description gRPC's <c>ServerCallContext.Peer</c> shows for a local peer.</summary>
    public static string Describe(string scheme, PeerIdentity peer) => $"{scheme}:pid={peer.ProcessId},uid={peer.UserId}";
}
