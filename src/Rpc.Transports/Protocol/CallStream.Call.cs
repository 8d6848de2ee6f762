using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Text;
using Grpc.Core;

namespace Rpc.Transports.Protocol;

// The call object's side: one reader and one writer at a time (gRPC allows one pending read and one
// pending write per call), each on whatever thread the application uses. The reader meets the read
// loop only in the queue (under SyncRoot); the writer meets it only in the send window and in the
// connection's write lock, under which the call start takes its stream id.
internal sealed partial class CallStream
{
    /// <summary>
    /// The next message, or <see langword="null"/> once the peer has sent its last one.
    /// Throws <see cref="StreamResetException"/> when the stream was torn down.
    /// </summary>
    public ValueTask<IncomingMessage?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        // A message already queued, the common case while a stream flows, costs no state machine.
        if (ResetStatus is null && TryDequeue(out var message, out var credit))
        {
            var granting = GrantCreditAsync(credit);
            if (granting.IsCompletedSuccessfully)
            {
                return new ValueTask<IncomingMessage?>(message);
            }

            return AfterGrantAsync(granting, message);
        }

        return ReadMessageSlowAsync(cancellationToken);
    }

    private static async ValueTask<IncomingMessage?> AfterGrantAsync(ValueTask granting, IncomingMessage message)
    {
        await granting.ConfigureAwait(false);
        return message;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IncomingMessage?> ReadMessageSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (ResetStatus is { } reset)
            {
                throw new StreamResetException(reset);
            }

            if (TryDequeue(out var message, out var credit))
            {
                await GrantCreditAsync(credit).ConfigureAwait(false);
                return message;
            }

            if (!await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (ResetStatus is { } resetAtEnd)
                {
                    throw new StreamResetException(resetAtEnd);
                }

                return null;
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="frames"/>. A message that fits one frame and the window goes out with
    /// its neighbours in one write; a larger one is cut into frames as window arrives.
    /// </summary>
    /// <remarks>
    /// A call start (<see cref="OutgoingFrames.Method"/> set) first waits for a stream slot under
    /// the peer's concurrency limit, for as long as <paramref name="cancellationToken"/> allows
    /// (the caller passes one that fires on the call's deadline or cancellation); a token that
    /// fires there throws <see cref="OperationCanceledException"/> and the peer never hears of the call.
    /// </remarks>
    public async ValueTask SendAsync(OutgoingFrames frames, CancellationToken cancellationToken = default)
    {
        ThrowIfReset();
        if (frames.Method is not null)
        {
            await _connection.TakeSlotAsync(this, cancellationToken).ConfigureAwait(false);
        }

        var messageLength = frames.Message.Length;
        var copy = false;
        var region = frames.HasMessage ? TakeRegion(frames.Message, out copy) : null;
        var acquisition = region?.Acquisition ?? 0;
        var whole = region is not null
            || !frames.HasMessage
            || messageLength == 0
            || (messageLength <= _connection.PeerSettings.MaxFrameSize && TryTakeWindow(messageLength));
        try
        {
            if (frames.HasMessage)
            {
                await _connection.WaitForOutputRoomAsync(cancellationToken).ConfigureAwait(false);
            }

            if (region is not null)
            {
                await WriteMappedAsync(frames, region, copy).ConfigureAwait(false);
            }
            else if (whole)
            {
                await _connection.WriteAsync((this, frames), static (writer, state) => state.Item1.WriteAll(writer, state.frames)).ConfigureAwait(false);
            }
            else
            {
                await SendInFragmentsAsync(frames, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IOException ex)
        {
            throw new StreamResetException(await StatusAfterBrokenSendAsync(ex).ConfigureAwait(false));
        }
        catch (HeadersTooLargeException ex)
        {
            // Only this call fails: the peer learns why with CANCEL, the connection goes on.
            await ResetAsync(ex.Status).ConfigureAwait(false);
            throw new StreamResetException(ex.Status);
        }
        finally
        {
            if (region is not null)
            {
                // A reference written finished the write already (the peer will release the region);
                // otherwise the message never went and the region is free again.
                _connection.OutgoingRegions!.Abandon(region, acquisition);
            }
        }

        if (frames.TrailersStatus is not null && TryClose())
        {
            _connection.RemoveStream(this);
            _connection.RequestAssemblySweep();
            CompleteQueue();
        }
    }

    /// <summary>
    /// A send the medium failed: the connection may still be reading what the peer said before it
    /// went, such as a GOAWAY that refused this stream (so the call never reached the server and may
    /// go elsewhere). With the send on the writer's own thread the writer learns of the failure before
    /// that is read; the stream's status, once the connection has read to its end, says more than the
    /// medium's error. Bounded: a connection that does not end within the grace gets the medium's.
    /// </summary>
    private async ValueTask<Status> StatusAfterBrokenSendAsync(IOException error)
    {
        try
        {
            await _connection.Closed.WaitAsync(BrokenSendGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Still reading: the medium's error is all there is.
        }

        return ResetStatus ?? new Status(StatusCode.Unavailable, $"The connection failed: {error.Message}", error);
    }

    /// <summary>
    /// The region a message of at least the connection's threshold goes through: the one it was
    /// serialized into (<paramref name="copy"/> false), or a free one it is to be copied into;
    /// null when it takes the stream.
    /// </summary>
    private Mapping.OutgoingRegion? TakeRegion(ReadOnlyMemory<byte> message, out bool copy)
    {
        copy = false;
        if (_connection.OutgoingRegions is not { } regions || message.Length < regions.Threshold)
        {
            return null;
        }

        if (MemoryMarshal.TryGetMemoryManager(message, out Mapping.OutgoingRegion? serializedInto, out var start, out _)
            && start == 0 && serializedInto.Owner == regions)
        {
            return serializedInto;
        }

        copy = true;
        return regions.TryAcquire(message.Length);
    }

    /// <summary>
    /// Writes the message as a reference to <paramref name="region"/>, copying it there first unless
    /// it was serialized there (outside any lock either way); the reference frame takes no
    /// flow-control window.
    /// </summary>
    private ValueTask WriteMappedAsync(OutgoingFrames frames, Mapping.OutgoingRegion region, bool copy)
    {
        if (copy)
        {
            frames.Message.Span.CopyTo(region.GetSpan(frames.Message.Length));
        }

        return _connection.WriteAsync((this, frames, region), static (writer, state) =>
        {
            var (stream, frames, region) = state;
            stream.WritePrefix(writer, ref frames);
            var flags = frames.MessageCompressed ? FrameFlags.Compressed : FrameFlags.None;
            if (frames.EndStream)
            {
                flags |= FrameFlags.EndStream;
                frames.EndStream = false;
            }

            bool announces;
            try
            {
                // The descriptor goes first, and under the write lock: the peer takes descriptors
                // in the order the references announcing them arrive.
                announces = stream._connection.OutgoingRegions!.Announce(region);
            }
            catch (IOException ex)
            {
                // The medium broke its ordering promise (or ended): nothing after this can be
                // trusted on this connection, so it goes, failing every call with Unavailable.
                stream._connection.Abort(ex);
                throw;
            }

            FrameWriter.WriteMessageReference(writer, stream.Id, region.Id, frames.Message.Length, announces ? region.Size : 0, flags);
            // Before the flush sends the reference: from then on the peer may release the region at
            // once, and its release, read on the receive thread, must find the write finished even
            // while this writer's thread has not returned from the flush (the send may run on it).
            stream._connection.OutgoingRegions!.FinishWrite(region, referenced: true);
            stream.WriteSuffix(writer, frames);
        });
    }

    private void WriteAll(PipeWriter writer, OutgoingFrames frames)
    {
        WritePrefix(writer, ref frames);
        if (frames.HasMessage)
        {
            var flags = frames.MessageCompressed ? (byte)(FrameFlags.EndMessage | FrameFlags.Compressed) : FrameFlags.EndMessage;
            if (frames.EndStream)
            {
                flags |= FrameFlags.EndStream;
                frames.EndStream = false;
            }

            FrameWriter.WriteMessage(writer, Id, frames.Message.Span, flags);
        }

        WriteSuffix(writer, frames);
    }

    private async ValueTask SendInFragmentsAsync(OutgoingFrames frames, CancellationToken cancellationToken)
    {
        if (frames.Method is not null || frames.SendHeaders)
        {
            await _connection.WriteAsync((this, frames), static (writer, state) =>
            {
                var prefix = state.frames;
                state.Item1.WritePrefix(writer, ref prefix);
            }).ConfigureAwait(false);
        }

        var remaining = frames.Message;
        var maxFrame = _connection.PeerSettings.MaxFrameSize;
        while (!remaining.IsEmpty)
        {
            await _connection.WaitForOutputRoomAsync(cancellationToken).ConfigureAwait(false);
            var granted = await TakeBothWindowsAsync(Math.Min(remaining.Length, maxFrame), cancellationToken).ConfigureAwait(false);
            var fragment = remaining[..granted];
            remaining = remaining[granted..];
            var flags = FrameFlags.None;
            if (remaining.IsEmpty)
            {
                flags = frames.MessageCompressed ? (byte)(FrameFlags.EndMessage | FrameFlags.Compressed) : FrameFlags.EndMessage;
                if (frames.EndStream)
                {
                    flags |= FrameFlags.EndStream;
                }
            }

            await _connection.WriteAsync((this, fragment, flags), static (writer, state) =>
                FrameWriter.WriteMessage(writer, state.Item1.Id, state.fragment.Span, state.flags)).ConfigureAwait(false);
        }

        if (frames.TrailersStatus is not null)
        {
            await _connection.WriteAsync((this, frames), static (writer, state) =>
            {
                var suffix = state.frames;
                suffix.EndStream = false;
                state.Item1.WriteSuffix(writer, suffix);
            }).ConfigureAwait(false);
        }
    }

    private void WritePrefix(PipeWriter writer, ref OutgoingFrames frames)
    {
        ThrowIfReset();
        var maxFrame = _connection.PeerSettings.MaxFrameSize;
        if (frames.Method is not null)
        {
            // Checked before the stream gets an id: the peer never hears of a call it could not take.
            var length = FrameWriter.GetCallStartLength(frames.Method, frames.Headers);
            if (length > maxFrame)
            {
                throw FailUnstarted(new Status(StatusCode.ResourceExhausted, $"Request headers of {length} bytes exceed the peer's limit of {maxFrame} bytes."));
            }

            if (MetadataCodec.FindUnprintableValue(frames.Headers) is { } badKey)
            {
                throw FailUnstarted(new Status(StatusCode.Internal, UnprintableMessage("Request header", badKey)));
            }

            // Only a path that may pass the limit pays for counting its UTF-8 bytes (at most 3 per char).
            if (frames.Method.Length > PayloadCodec.MaxMethodLength / 3 && Encoding.UTF8.GetByteCount(frames.Method) is var pathLength && pathLength > PayloadCodec.MaxMethodLength)
            {
                throw FailUnstarted(new Status(StatusCode.Internal, $"Method path of {pathLength} bytes is longer than {PayloadCodec.MaxMethodLength}."));
            }

            var listSize = MetadataCodec.GetListSize(frames.Headers);
            if (listSize > _connection.PeerSettings.MaxHeaderListSize)
            {
                throw FailUnstarted(new Status(StatusCode.ResourceExhausted, $"Request headers of {listSize} bytes (as the peer counts them) exceed the peer's header list limit of {_connection.PeerSettings.MaxHeaderListSize} bytes."));
            }

            _connection.AssignStreamId(this);
            FrameWriter.WriteCallStart(writer, Id, frames.Method, frames.TimeoutMicroseconds, frames.Headers);
        }
        else if (frames.SendHeaders)
        {
            var length = MetadataCodec.GetSize(frames.Headers);
            if (length > maxFrame)
            {
                throw new HeadersTooLargeException(new Status(StatusCode.ResourceExhausted, $"Response headers of {length} bytes exceed the peer's limit of {maxFrame} bytes."));
            }

            if (MetadataCodec.FindUnprintableValue(frames.Headers) is { } badKey)
            {
                throw new HeadersTooLargeException(new Status(StatusCode.Internal, UnprintableMessage("Response header", badKey)));
            }

            var listSize = MetadataCodec.GetListSize(frames.Headers);
            if (listSize > _connection.PeerSettings.MaxHeaderListSize)
            {
                throw new HeadersTooLargeException(new Status(StatusCode.ResourceExhausted, $"Response headers of {listSize} bytes (as the peer counts them) exceed the peer's header list limit of {_connection.PeerSettings.MaxHeaderListSize} bytes."));
            }

            FrameWriter.WriteResponseHeaders(writer, Id, frames.Headers);
        }
    }

    private void WriteSuffix(PipeWriter writer, OutgoingFrames frames)
    {
        if (frames.EndStream)
        {
            FrameWriter.WriteHalfClose(writer, Id);
        }

        if (frames.TrailersStatus is { } status)
        {
            // Before the trailers can reach the client, which may start its next call on them.
            ReleaseSlot();
            var trailers = frames.Trailers;
            var length = FrameWriter.GetTrailersLength(status, trailers);
            var listSize = MetadataCodec.GetListSize(trailers);
            if (MetadataCodec.FindUnprintableValue(trailers) is { } badKey)
            {
                status = new Status(StatusCode.Internal, UnprintableMessage("Trailer", badKey));
                trailers = null;
            }
            else if (listSize > _connection.PeerSettings.MaxHeaderListSize)
            {
                status = new Status(StatusCode.Internal, $"Trailers of {listSize} bytes (as the peer counts them) exceed the peer's header list limit of {_connection.PeerSettings.MaxHeaderListSize} bytes.");
                trailers = null;
            }
            else if (length > _connection.PeerSettings.MaxFrameSize)
            {
                // As grpc-dotnet: the call still ends, with a status that says why its own did not arrive.
                status = new Status(StatusCode.Internal, $"Trailers of {length} bytes exceed the peer's limit of {_connection.PeerSettings.MaxFrameSize} bytes.");
                trailers = null;
            }

            FrameWriter.WriteTrailers(writer, Id, status, trailers);
        }
    }

    private static string UnprintableMessage(string what, string key) =>
        $"{what} '{key}' has a value outside printable ASCII; text metadata must be printable ASCII (use a '-bin' key for other bytes).";

    private void ThrowIfReset()
    {
        if (ResetStatus is { } reset)
        {
            throw new StreamResetException(reset);
        }

        if (Trailers is { } trailers)
        {
            throw new StreamResetException(trailers.Status);
        }
    }
}

/// <summary>Response headers the peer will not take (too large, or not printable ASCII); thrown under the write lock before anything is written.</summary>
internal sealed class HeadersTooLargeException(Status status) : Exception(status.Detail)
{
    public Status Status { get; } = status;
}
