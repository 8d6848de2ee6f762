using System.Buffers;
using System.IO.Pipelines;

namespace Rpc.Server.Internal;

/// <summary>What a connection's first bytes say it speaks.</summary>
internal enum SniffResult
{
    /// <summary>Anything but HTTP/2's preface (our protocol's, or garbage our protocol refuses), or a peer that closed early.</summary>
    Other,

    /// <summary>HTTP/2's client preface, whole.</summary>
    Http2,

    /// <summary>Nothing decisive within the timeout.</summary>
    Silent,
}

/// <summary>Tells a standard gRPC client from an Rpc client by the first bytes it sends, consuming none.</summary>
internal static class PrefaceSniffer
{
    /// <summary>RFC 9113 §3.4: every HTTP/2 client starts with these 24 bytes.</summary>
    public static ReadOnlySpan<byte> Http2Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>
    /// Waits until the bytes received differ from HTTP/2's preface (usually at the first byte: ours
    /// begins 'R') or match it whole, for at most <paramref name="timeout"/>. The bytes stay unread
    /// in <paramref name="input"/> for whichever protocol takes the connection.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="stopping"/> fired.</exception>
    public static async Task<SniffResult> SniffAsync(PipeReader input, TimeSpan timeout, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                return SniffResult.Silent;
            }

            var verdict = Judge(result.Buffer);
            if (verdict is not null || result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(result.Buffer.Start);
                return verdict ?? SniffResult.Other;
            }

            // Examined, not consumed: the next read waits for more bytes.
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>The verdict on the bytes so far, or null while they are a proper prefix of the preface.</summary>
    internal static SniffResult? Judge(ReadOnlySequence<byte> received)
    {
        var length = (int)Math.Min(received.Length, Http2Preface.Length);
        Span<byte> head = stackalloc byte[Http2Preface.Length];
        received.Slice(0, length).CopyTo(head);
        if (!head[..length].SequenceEqual(Http2Preface[..length]))
        {
            return SniffResult.Other;
        }

        return length == Http2Preface.Length ? SniffResult.Http2 : null;
    }
}
