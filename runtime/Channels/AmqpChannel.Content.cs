using System;
using System.Buffers;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Channels;

/// <summary>Content reassembly: a content-bearing method, then one header frame, then body frames until the
/// announced size is reached (spec section 4.2.6.2). The property section and the body are copied once, straight
/// out of the receive buffer into one array the message owns (or one rented buffer in pooled mode); decoding
/// the properties is left to the first reader.</summary>
internal sealed partial class AmqpChannel
{
    private ContentKind _content;
    private ulong _deliveryTag;
    private bool _redelivered;
    private byte[] _exchange = [];
    private byte[] _routingKey = [];
    private string _consumerTag = string.Empty;
    private ushort _replyCode;
    private string _replyText = string.Empty;
    private uint _messageCount;
    private bool _contentNoAck;
    private byte[]? _buffer;
    private int _propertiesLength;
    private int _bodyLength;
    private int _bodyReceived;
    private bool _bufferPooled;
    private ArrayPool<byte>? _bufferPool;
    private int _deliveredInBatch; // the stamp of the read batch this channel was last added to
    private bool _headerSeen;
    private bool _skipping;
    private Utf8StringCache _exchangeCache;
    private Utf8StringCache _routingKeyCache;
    private Utf8StringCache _consumerTagCache;
    private DeliveryRecordPool? _records;
    private DeliveryRecord? _pendingRecord;
    private byte[]? _names;
    private int _exchangeLength;
    private int _routingKeyLength;
    private int _bodyOffset;

    private enum ContentKind
    {
        None,
        Deliver,
        Return,
        GetOk,
    }

    /// <summary>Whether deliveries on this channel come from a no-ack consumer (settling them sends nothing).</summary>
    internal bool DeliveriesNoAck { get; set; }

    /// <summary>The reusable records deliveries are handed out in (<see cref="IChannelHandler.OnDelivery(AmqpChannel, DeliveryRecord, long)"/>),
    /// or null when each delivery becomes a <see cref="ReceivedMessage"/>.</summary>
    internal DeliveryRecordPool? DeliveryRecords => _records;

    /// <summary>Hands deliveries out as pooled records (<see cref="ConsumerOptions.OnDelivery"/>) instead of
    /// <see cref="ReceivedMessage"/> objects; their bodies are always pooled. Set before basic.consume.</summary>
    internal void UseDeliveryRecords() => _records ??= new DeliveryRecordPool(this, _settleSync);

    internal void OnBasicDeliver(BasicDeliver.Reader deliver)
    {
        BeginContent(ContentKind.Deliver, BasicDeliver.Name);
        _consumerTag = _consumerTagCache.GetString(deliver.ConsumerTagBytes);
        _deliveryTag = deliver.DeliveryTag;
        _redelivered = deliver.Redelivered;
        _contentNoAck = DeliveriesNoAck;
        if (_records is not null)
        {
            // Into the delivery's own buffer once its size is known (content header): nothing shared, nothing
            // allocated, whatever the names.
            ReadOnlySpan<byte> exchange = deliver.ExchangeBytes;
            ReadOnlySpan<byte> routingKey = deliver.RoutingKeyBytes;
            _names ??= new byte[2 * byte.MaxValue];
            exchange.CopyTo(_names);
            routingKey.CopyTo(_names.AsSpan(exchange.Length));
            _exchangeLength = exchange.Length;
            _routingKeyLength = routingKey.Length;
            if (_contentNoAck)
            {
                TrackDelivery(_deliveryTag, needsSettling: false);
            }

            // An acknowledged one is tracked when its record goes live, under the lock that links it.
            return;
        }

        _exchange = _exchangeCache.GetBytes(deliver.ExchangeBytes);
        _routingKey = _routingKeyCache.GetBytes(deliver.RoutingKeyBytes);
        TrackDelivery(_deliveryTag, needsSettling: !_contentNoAck);
    }

    internal void OnBasicReturn(BasicReturn.Reader returned)
    {
        BeginContent(ContentKind.Return, BasicReturn.Name);
        _replyCode = returned.ReplyCode;
        _replyText = returned.ReplyText;
        _exchange = _exchangeCache.GetBytes(returned.ExchangeBytes);
        _routingKey = _routingKeyCache.GetBytes(returned.RoutingKeyBytes);
    }

    internal void OnBasicGetOk(BasicGetOk.Reader getOk)
    {
        BeginContent(ContentKind.GetOk, BasicGetOk.Name);
        _consumerTag = string.Empty;
        _deliveryTag = getOk.DeliveryTag;
        _redelivered = getOk.Redelivered;
        _exchange = _exchangeCache.GetBytes(getOk.ExchangeBytes);
        _routingKey = _routingKeyCache.GetBytes(getOk.RoutingKeyBytes);
        _messageCount = getOk.MessageCount;
        _contentNoAck = PendingGetNoAck();
        TrackDelivery(_deliveryTag, needsSettling: !_contentNoAck);
    }

    private void BeginContent(ContentKind kind, string method)
    {
        if (_content != ContentKind.None)
        {
            throw new ProtocolViolationException(
                $"The broker sent {method} on channel {Id} before the previous message's content was complete.");
        }

        _content = kind;
        _headerSeen = false;
    }

    internal void OnContentHeader(ReadOnlySpan<byte> payload)
    {
        if (_content == ContentKind.None || _headerSeen)
        {
            throw new ProtocolViolationException($"Unexpected content header frame on channel {Id}.");
        }

        ContentHeader.Reader header = ContentHeader.Read(payload);
        if (header.BodySize > (ulong)(Array.MaxLength - payload.Length))
        {
            throw new AmqpFrameFormatException(
                $"The broker announced a body of {header.BodySize} bytes on channel {Id}, more than one message can hold here.");
        }

        // The limits are checked before anything is rented or copied for the message.
        ProtocolLimits limits = _connection.Settings.Limits;
        if (header.BodySize > (ulong)limits.MaxBodySize)
        {
            Refuse(ProtocolLimitExceededException.BodyTooLarge(DescribeContent(), header.BodySize, limits.MaxBodySize),
                (int)header.BodySize);
            return;
        }

        if (header.Properties.HasHeaders)
        {
            TableLimit exceeded = FieldCodec.CheckLimits(header.Properties.HeadersBytes, limits.MaxFieldTableDepth,
                limits.MaxFieldTableEntries, out int found);
            if (exceeded != TableLimit.None)
            {
                Refuse(limits.TableLimitException(exceeded, found, DescribeContent() + ": its headers"),
                    (int)header.BodySize);
                return;
            }
        }

        ReadOnlySpan<byte> rawProperties = payload.Slice(ContentHeader.PrefixLength);
        _headerSeen = true;
        _propertiesLength = rawProperties.Length;
        _bodyLength = (int)header.BodySize;
        _bodyReceived = 0;
        bool record = _records is not null && _content == ContentKind.Deliver;
        int names = record ? _exchangeLength + _routingKeyLength : 0;
        _bodyOffset = names + _propertiesLength;
        int total = _bodyOffset + _bodyLength;
        if (record)
        {
            // The record owns (and usually keeps) its buffer.
            _pendingRecord = _records!.Rent();
            _buffer = _pendingRecord.PrepareBuffer(total);
        }
        else
        {
            _bufferPooled = BodyMode == BodyReceiveMode.Pooled && _content == ContentKind.Deliver && total > 0;
            _bufferPool = _bufferPooled ? DeliveryBufferPool.For(total) : null;
            _buffer = total == 0 ? [] : _bufferPool is not null ? _bufferPool.Rent(total) : new byte[total];
        }

        if (names > 0)
        {
            _names.AsSpan(0, names).CopyTo(_buffer);
        }

        rawProperties.CopyTo(_buffer.AsSpan(names));
        if (_bodyLength == 0)
        {
            CompleteContent();
        }
    }

    internal void OnContentBody(in ReadOnlySequence<byte> payload)
    {
        if (_skipping)
        {
            SkipBody(in payload);
            return;
        }

        if (!_headerSeen || _buffer is null)
        {
            throw new ProtocolViolationException($"Unexpected content body frame on channel {Id}.");
        }

        if (payload.Length > _bodyLength - _bodyReceived)
        {
            throw new AmqpFrameFormatException(
                $"The broker sent more body bytes than the {_bodyLength} announced on channel {Id}.");
        }

        payload.CopyTo(_buffer.AsSpan(_bodyOffset + _bodyReceived));
        _bodyReceived += (int)payload.Length;
        if (_bodyReceived == _bodyLength)
        {
            CompleteContent();
        }
    }

    /// <summary>Read loop, after a read batch in which this channel completed deliveries.</summary>
    internal void FlushDeliveries(long turn) => _handler.OnDeliveriesFlushed(this, turn);

    private void AddToBatch()
    {
        DeliveryBatch batch = _connection.DeliveryBatch;
        if (_deliveredInBatch != batch.Stamp)
        {
            _deliveredInBatch = batch.Stamp;
            batch.Add(this);
        }
    }

    private void CompleteContent()
    {
        ContentKind kind = _content;
        byte[] buffer = _buffer!;
        _content = ContentKind.None;
        _buffer = null;
        _headerSeen = false;
        var rawProperties = new ReadOnlyMemory<byte>(buffer, _bodyOffset - _propertiesLength, _propertiesLength);
        var body = new ReadOnlyMemory<byte>(buffer, _bodyOffset, _bodyLength);

        switch (kind)
        {
            case ContentKind.Deliver when _records is { } records:
                DeliverRecord(records);
                break;
            case ContentKind.Deliver:
                _handler.OnDelivery(this, new InboundDelivery(this, _deliveryTag, _redelivered, _consumerTag, _exchange,
                    _routingKey, rawProperties, body, _contentNoAck, _bufferPooled ? buffer : null, _bufferPool));
                AddToBatch();

                break;
            case ContentKind.GetOk:
                CompleteRpc(new RpcResponse
                {
                    CommandId = BasicGetOk.CommandIdValue,
                    MessageCount = _messageCount,
                    Delivery = new InboundDelivery(this, _deliveryTag, _redelivered, _consumerTag, _exchange,
                        _routingKey, rawProperties, body, _contentNoAck, pooledBuffer: null, pool: null),
                });
                break;
            case ContentKind.Return:
                MessageProperties properties = rawProperties.IsEmpty
                    ? MessageProperties.Empty
                    : MessageProperties.FromWire(rawProperties.Span);
                _handler.OnReturn(this, new ReturnedMessage(_replyCode, _replyText, Wire.DecodeString(_exchange),
                    Wire.DecodeString(_routingKey), properties, body));
                break;
        }
    }

    private void DeliverRecord(DeliveryRecordPool records)
    {
        DeliveryRecord record = _pendingRecord!;
        _pendingRecord = null;
        record.Fill(_deliveryTag, _redelivered, _contentNoAck, _consumerTag, _exchangeLength, _routingKeyLength,
            _propertiesLength, _bodyLength);
        long token;
        if (_contentNoAck)
        {
            token = records.PublishLocked(record);
        }
        else
        {
            lock (_settleSync)
            {
                _settlement.Delivered(_deliveryTag, needsSettling: true);
                token = records.PublishLocked(record);
            }
        }

        _handler.OnDelivery(this, record, token);
        AddToBatch();
    }

    // ---- refused content (over a ProtocolLimits limit) ----

    /// <summary>What the content in progress is, for messages: e.g. <c>basic.deliver 7 on channel 3 (exchange 'x',
    /// routing key 'k')</c>.</summary>
    private string DescribeContent()
    {
        var (exchange, routingKey) = ContentNames();
        string method = _content switch
        {
            ContentKind.Deliver => $"basic.deliver {_deliveryTag}",
            ContentKind.GetOk => $"basic.get-ok {_deliveryTag}",
            _ => "basic.return",
        };
        return $"{method} on channel {Id} (exchange '{exchange}', routing key '{routingKey}')";
    }

    /// <summary>The exchange and routing key of the content in progress: a record delivery keeps them in
    /// <c>_names</c>, everything else in <c>_exchange</c> and <c>_routingKey</c>.</summary>
    private (string Exchange, string RoutingKey) ContentNames() =>
        _content == ContentKind.Deliver && _records is not null
            ? (Wire.DecodeString(_names.AsSpan(0, _exchangeLength)),
                Wire.DecodeString(_names.AsSpan(_exchangeLength, _routingKeyLength)))
            : (Wire.DecodeString(_exchange), Wire.DecodeString(_routingKey));

    /// <summary>The content header of the message in progress broke a limit: nothing is buffered for it, its body
    /// frames are read and dropped (<see cref="SkipBody"/>), a delivery is rejected without requeue (so a dead-letter
    /// exchange gets it, and the broker does not hand it out again), and whoever waits for it hears why.</summary>
    private void Refuse(ProtocolLimitExceededException error, int bodyLength)
    {
        _headerSeen = true;
        _skipping = true;
        _bodyLength = bodyLength;
        _bodyReceived = 0;
        bool rejected = false;
        switch (_content)
        {
            case ContentKind.Deliver:
            case ContentKind.GetOk:
                if (!_contentNoAck)
                {
                    if (_content == ContentKind.Deliver && _records is not null)
                    {
                        // A record delivery is tracked when its record goes live; this one never does.
                        TrackDelivery(_deliveryTag, needsSettling: true);
                    }

                    rejected = Reject(_deliveryTag, requeue: false);
                }

                break;
        }

        string fate = _content switch
        {
            ContentKind.Return => " The return was passed on without its properties and body.",
            _ when rejected => " It was rejected without requeue (a dead-letter exchange of its queue gets it).",
            _ when _contentNoAck => " It was delivered with no-ack: the broker has already let go of it.",
            _ => " The channel is closing: the broker requeues it.",
        };
        var refused = new ProtocolLimitExceededException(error.Limit, error.Actual, error.Allowed, error.Message + fate);
        LogContentRefused(_connection.Logger, Id, refused.Message);
        switch (_content)
        {
            case ContentKind.Deliver:
                var (exchange, routingKey) = ContentNames();
                _handler.OnDeliveryRefused(this, new RefusedDelivery(_consumerTag, _deliveryTag, _redelivered, exchange,
                    routingKey, rejected, refused));
                break;
            case ContentKind.GetOk:
                CompleteRpc(new RpcResponse
                {
                    CommandId = BasicGetOk.CommandIdValue,
                    MessageCount = _messageCount,
                    Refused = refused,
                });
                break;
            case ContentKind.Return:
                // The publish it answers still fails with MessageReturnedException (matched by exchange, routing key
                // and order; the body cannot tell it apart from a twin, which is rare).
                _handler.OnReturn(this, new ReturnedMessage(_replyCode, _replyText, Wire.DecodeString(_exchange),
                    Wire.DecodeString(_routingKey), MessageProperties.Empty, ReadOnlyMemory<byte>.Empty));
                break;
        }

        if (_bodyLength == 0)
        {
            EndSkipping();
        }
    }

    private void SkipBody(in ReadOnlySequence<byte> payload)
    {
        if (payload.Length > _bodyLength - _bodyReceived)
        {
            throw new AmqpFrameFormatException(
                $"The broker sent more body bytes than the {_bodyLength} announced on channel {Id}.");
        }

        _bodyReceived += (int)payload.Length;
        if (_bodyReceived == _bodyLength)
        {
            EndSkipping();
        }
    }

    private void EndSkipping()
    {
        _skipping = false;
        _headerSeen = false;
        _content = ContentKind.None;
    }

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Channel {Channel} refused a message: {Reason}")]
    private static partial void LogContentRefused(ILogger logger, ushort channel, string reason);
}
