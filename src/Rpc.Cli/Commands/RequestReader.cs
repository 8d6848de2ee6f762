using System.Text;
using System.Text.Json;

namespace Rpc.Cli.Commands;

/// <summary>
/// Splits the request text into its JSON objects: one for a unary or server-streaming call, any
/// number (one after another, whitespace between) for a client stream.
/// </summary>
internal static class RequestReader
{
    // The tool holds every request in memory before sending; this bounds what it will read.
    private const int MaxRequestText = 64 * 1024 * 1024;

    /// <summary>The request text: the argument, <c>-d</c> (text, <c>@file</c> or <c>@-</c> for stdin), stdin when redirected, else <c>{}</c>.</summary>
    public static string ReadText(string? argument, string? data, ToolIO io)
    {
        if (argument is not null && data is not null)
        {
            throw new ToolException(ExitCodes.InvalidArgument, "Give the request either as an argument or with -d, not both.");
        }

        var source = argument ?? data;
        if (source == "@-" || (source is null && io.In() is not null))
        {
            var stdin = io.In() ?? throw new ToolException(ExitCodes.InvalidArgument, "-d @- reads stdin, but stdin is a terminal.");
            return ReadBounded(stdin, "stdin");
        }

        if (source is not null && source.StartsWith('@'))
        {
            var path = source[1..];
            try
            {
                using var file = new StreamReader(path, Encoding.UTF8);
                return ReadBounded(file, path);
            }
            catch (IOException e)
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"Cannot read request file '{path}': {e.Message}");
            }
        }

        return source ?? "{}";
    }

    /// <summary>Each top-level JSON value of <paramref name="text"/>, as its own text.</summary>
    public static List<string> Split(string text)
    {
        var requests = new List<string>();
        var bytes = Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
        try
        {
            while (reader.Read())
            {
                using var document = JsonDocument.ParseValue(ref reader);
                requests.Add(document.RootElement.GetRawText());
            }
        }
        catch (JsonException e)
        {
            throw new ToolException(ExitCodes.InvalidArgument, $"Request {requests.Count + 1} is not valid JSON: {e.Message}");
        }

        return requests;
    }

    private static string ReadBounded(TextReader reader, string what)
    {
        var buffer = new char[MaxRequestText + 1];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        return read > MaxRequestText
            ? throw new ToolException(ExitCodes.InvalidArgument, $"The request text from {what} is over {MaxRequestText / 1024 / 1024} MiB.")
            : new string(buffer, 0, read);
    }
}
