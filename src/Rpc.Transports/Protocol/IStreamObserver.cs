using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>Told when a stream is torn down by the peer or by its connection's end.</summary>
internal interface IStreamObserver
{
    /// <summary>Runs on the connection's read loop: must not block.</summary>
    void OnReset(Status status);
}

/// <summary>The server side's hook for calls the peer starts.</summary>
internal interface ICallAcceptor
{
    /// <summary>Runs on the connection's read loop: must hand the call off, not run it.</summary>
    void OnCallStarted(MultiplexedConnection connection, CallStream stream, CallStart start);

    /// <summary>The server's own string for a method path it serves, so parsing a call start allocates none.</summary>
    string? FindKnownPath(ReadOnlySpan<char> path);

    /// <summary>
    /// True when every call calls <see cref="CallStream.ReleaseSlot"/> once its handler is done:
    /// then a stream the client cancelled keeps counting against the limit until its handler has
    /// finished, so cancelled work cannot pile up. False (the default): a stream stops counting
    /// when it closes, whoever closed it.
    /// </summary>
    bool ReleasesSlots => false;
}
