using System.Net.Sockets;

namespace Rpc.Transports.Internal;

/// <summary>What a failed raw accept means for the accept loop.</summary>
internal enum AcceptFailure
{
    /// <summary>The peer went away (reset, gave up mid-connect): accept the next one at once.</summary>
    PeerGone,

    /// <summary>The peer is not allowed (a named pipe's peer of another user): log it and go on.</summary>
    Refused,

    /// <summary>Out of descriptors or buffers: log, wait, then try again, since retrying at once spins.</summary>
    ResourceExhausted,

    /// <summary>Anything else: log and back off like exhaustion, so a broken listener neither dies nor spins.</summary>
    Unexpected,
}

/// <summary>Sorts accept failures; the accept loop never ends on one while the listener is bound.</summary>
internal static class AcceptFailures
{
    // errno values, for failures that reach us as IOException with the errno as HResult (pipes).
    private const int OutOfMemory = 12; // ENOMEM
    private const int SystemFileTableFull = 23; // ENFILE
    private const int ProcessFileTableFull = 24; // EMFILE
    private const int NoBufferSpace = 105; // ENOBUFS

    public static AcceptFailure Classify(Exception ex) => ex switch
    {
        SocketException { SocketErrorCode: SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable } => AcceptFailure.ResourceExhausted,
        SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown } => AcceptFailure.PeerGone,
        SocketException => AcceptFailure.Unexpected,
        UnauthorizedAccessException => AcceptFailure.Refused,
        IOException { HResult: OutOfMemory or SystemFileTableFull or ProcessFileTableFull or NoBufferSpace } => AcceptFailure.ResourceExhausted,
        OutOfMemoryException => AcceptFailure.ResourceExhausted,
        // A pipe client that gave up mid-connect breaks the waiting instance with an IOException.
        IOException => AcceptFailure.PeerGone,
        _ => AcceptFailure.Unexpected,
    };
}
