using System.Diagnostics.CodeAnalysis;
using Microsoft.Win32.SafeHandles;

namespace Rpc.Transports.Internal;

/// <summary>
/// A connection whose medium can hand the peer open file descriptors in order with its bytes: how a
/// large message's memory-mapped region reaches the peer (docs/mapped-payloads.md). Implemented by
/// the Unix-socket connection (<c>SCM_RIGHTS</c> on the stream itself) and the shared-memory
/// connection (on its control socket).
/// </summary>
/// <remarks>
/// Threads: <see cref="SendDescriptor"/> is called by a writer under the protocol's write lock;
/// <see cref="TryReceiveDescriptor"/> by the protocol's read loop only.
/// </remarks>
internal interface IDescriptorChannel
{
    /// <summary>
    /// The smallest message this side sends through a mapped region instead of the byte stream;
    /// <see cref="int.MaxValue"/> when this connection never maps.
    /// </summary>
    int MappedPayloadThreshold { get; }

    /// <summary>
    /// Hands <paramref name="descriptor"/> to the peer, which can take it with
    /// <see cref="TryReceiveDescriptor"/> once it has read any byte written to the output after this
    /// returns. Takes ownership: the descriptor is closed once sent (or when the connection ends).
    /// Throws <see cref="IOException"/> when the medium cannot carry it.
    /// </summary>
    void SendDescriptor(SafeFileHandle descriptor);

    /// <summary>
    /// The next descriptor the peer sent, in the order it sent them; false when none has arrived.
    /// The caller owns the handle. A peer that sends descriptors nobody takes is bounded by the
    /// medium: beyond a few dozen unclaimed ones the connection fails.
    /// </summary>
    bool TryReceiveDescriptor([NotNullWhen(true)] out SafeFileHandle? descriptor);
}
