using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using Rpc.Client;
using Rpc.Transports;
using Rpc.Transports.Tcp;

namespace Rpc.Cli.Commands;

/// <summary>The address argument and the options every command that talks to a server shares.</summary>
internal sealed class Connection
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);

    public Argument<string> Address { get; } = new("address")
    {
        Description = "The server: unix:///path.sock, pipe://name, shm://name, mq://name, tcp://host:port, tcps://host:port, or http(s)://host:port for any gRPC server.",
    };

    public Option<string[]> Headers { get; } = new("--header", "-H")
    {
        Description = "Request metadata as 'key: value'; repeat for more.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> Deadline { get; } = new("--deadline")
    {
        Description = "Deadline for the whole command: 500ms, 5s, 2m or seconds (default 30s).",
    };

    public Option<bool> Insecure { get; } = new("--insecure")
    {
        Description = "tcps://: accept any server certificate (for self-signed test servers).",
    };

    public void AddTo(Command command, bool withAddress = true)
    {
        if (withAddress)
        {
            command.Arguments.Add(Address);
        }

        command.Options.Add(Headers);
        command.Options.Add(Deadline);
        command.Options.Add(Insecure);
    }

    public RpcChannel OpenChannel(ParseResult result, out CallSettings settings)
    {
        var deadline = ParseDeadline(result.GetValue(Deadline));
        settings = new CallSettings(ParseHeaders(result.GetValue(Headers) ?? []), DateTime.UtcNow + deadline);
        var options = new RpcChannelOptions { ConnectTimeout = deadline };
        if (result.GetValue(Insecure))
        {
            options.Transports = TransportRegistry.CreateDefault();
#pragma warning disable CA5359 // --insecure is the user's explicit choice, for self-signed test servers.
            options.Transports.Register(new TcpTransport(new TcpTransportOptions { RemoteCertificateValidation = (_, _, _, _) => true }));
#pragma warning restore CA5359
        }

        try
        {
            return RpcChannel.ForAddress(result.GetValue(Address)!, options);
        }
        catch (ArgumentException e)
        {
            throw new ToolException(ExitCodes.InvalidArgument, $"Bad address '{result.GetValue(Address)}': {e.Message}");
        }
    }

    internal static TimeSpan ParseDeadline(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultDeadline;
        }

        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ when text.EndsWith('h') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || !double.IsFinite(value))
        {
            throw new ToolException(ExitCodes.InvalidArgument, $"--deadline '{text}' is not a duration such as 500ms, 5s or 2m.");
        }

        return TimeSpan.FromSeconds(value * scale);
    }

    internal static Metadata ParseHeaders(IEnumerable<string> headers)
    {
        var metadata = new Metadata();
        foreach (var header in headers)
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"Header '{header}' is not 'key: value'.");
            }

            var key = header[..colon].Trim().ToLowerInvariant();
            var value = header[(colon + 1)..].Trim();
            try
            {
                if (key.EndsWith(Metadata.BinaryHeaderSuffix, StringComparison.Ordinal))
                {
                    metadata.Add(key, Convert.FromBase64String(value));
                }
                else
                {
                    metadata.Add(key, value);
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"Header '{header}': {e.Message}");
            }
        }

        return metadata;
    }
}
