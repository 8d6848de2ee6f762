using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>Settings of the shared-memory transport.</summary>
public sealed class SharedMemoryTransportOptions
{
    private int _mappedPayloadThreshold = MappedPayloads.DefaultThreshold;

    /// <summary>Bytes in each direction's ring, a power of two from 4 KiB to 1 GiB. Default: 1 MiB.</summary>
    public int RingCapacity { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long a side spins on an empty (or full) ring before it sleeps on the futex. Spinning
    /// turns a quick answer into no system call at all; it is bounded, so an idle connection uses
    /// no CPU. Default: 50 µs.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below zero or above 100 ms.</exception>
    public TimeSpan SpinDuration
    {
        get;
        set => field = Internal.SpinLimits.Check(value, "SharedMemoryTransportOptions.SpinDuration");
    } = Internal.SpinLimits.DefaultSpin;

    /// <summary>
    /// Where the rendezvous sockets live. Default: <see langword="null"/>, meaning this user's private
    /// directory, <c>$XDG_RUNTIME_DIR/rpc</c> when that is set and ours, else <c>$TMPDIR/rpc-&lt;uid&gt;</c>
    /// (mode 0700). A directory set here must belong to this user and be writable by no one else.
    /// </summary>
    public string? RendezvousDirectory { get; set; }

    /// <summary>How long setting up a connection's segment may take. Default: 5 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The smallest message a connection sends through a memory-mapped region instead of the rings:
    /// the message is copied once into a sealed <c>memfd</c> region whose descriptor travels to the
    /// peer over the control socket (<c>SCM_RIGHTS</c>), the receiver maps it read-only and parses
    /// from it, and the ring carries only a small reference frame (docs/mapped-payloads.md). Linux
    /// only: elsewhere a connection never maps. Default: 128 KiB (131,072 bytes); from 4,096 bytes
    /// up, and <see cref="int.MaxValue"/> means never map.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 4,096 bytes.</exception>
    public int MappedPayloadThreshold
    {
        get => _mappedPayloadThreshold;
        set => _mappedPayloadThreshold = MappedPayloads.CheckThreshold(value, "SharedMemoryTransportOptions.MappedPayloadThreshold");
    }

    /// <summary>
    /// Makes the credential checks treat this process as running under that uid, so tests can
    /// play a peer of another user without root. Null (the default): the real effective uid.
    /// </summary>
    internal uint? UserIdOverride { get; set; }
}
