using System.Buffers;
using Grpc.Core;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;

namespace Rpc.Transports.Compression;

/// <summary>
/// Compresses and decompresses whole messages through a compression provider's streams. The
/// provider's type, <c>Grpc.Net.Compression.ICompressionProvider</c>, is the caller's (this assembly
/// does not reference Grpc.Net.Common): it comes in as a type parameter with a static delegate, so
/// nothing is allocated for it.
/// </summary>
internal static class MessageCompression
{
    /// <summary>gRPC's words for a message over the receive limit, as grpc-dotnet says them.</summary>
    public const string ReceiveTooLarge = "Received message exceeds the maximum configured message size.";

    /// <summary>Compresses <paramref name="payload"/>; the result's array is pooled and its sender releases it.</summary>
    public static SerializedMessage Compress<TProvider>(ReadOnlySpan<byte> payload, TProvider provider, Func<Stream, TProvider, Stream> createCompressionStream)
    {
        var output = new PooledBufferStream(payload.Length / 2);
        try
        {
            using (var compressor = createCompressionStream(output, provider))
            {
                compressor.Write(payload);
            }

            return output.Detach();
        }
        finally
        {
            output.Dispose();
        }
    }

    /// <summary>
    /// Decompresses <paramref name="message"/> and releases it. The output stops at
    /// <paramref name="maxSize"/>: past it the call fails ResourceExhausted, having held at most
    /// about twice the limit, whatever the compressed bytes claim (a gzip bomb costs its reader no
    /// more than an honest message at the limit). Bytes that do not decode fail it Internal.
    /// </summary>
    public static IncomingMessage Decompress<TProvider>(IncomingMessage message, int maxSize, TProvider provider, Func<Stream, TProvider, Stream> createDecompressionStream)
    {
        byte[]? output = null;
        var length = 0;
        // One byte over the limit is how a message over it is told from one exactly at it.
        var cap = (int)Math.Min((long)maxSize + 1, Array.MaxLength);
        try
        {
            using var input = message.OpenRead();
            using var decompressor = createDecompressionStream(input, provider);
            output = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(message.Length * 4L, 256L), cap));
            while (true)
            {
                if (length == output.Length)
                {
                    if (length > maxSize)
                    {
                        throw new RpcException(new Status(StatusCode.ResourceExhausted, ReceiveTooLarge));
                    }

                    // Doubles from what has come out, never past the cap.
                    var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(cap, 2L * length));
                    output.AsSpan(0, length).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(output);
                    output = grown;
                }

                var read = decompressor.Read(output, length, Math.Min(output.Length, cap) - length);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxSize)
                {
                    throw new RpcException(new Status(StatusCode.ResourceExhausted, ReceiveTooLarge));
                }
            }

            var result = new IncomingMessage(output, length);
            output = null;
            return result;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Failed to decompress message: " + ex.Message, ex));
        }
        finally
        {
            if (output is not null)
            {
                ArrayPool<byte>.Shared.Return(output);
            }

            message.Release();
        }
    }
}
