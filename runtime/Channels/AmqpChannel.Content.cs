using System;
using System.Buffers;
using CoolAmqp.Connections;
using CoolAmqp.Framing;

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
    private bool _deliveredInBatch;
    private bool _headerSeen;
    private Utf8StringCache _exchangeCache;
    private Utf8StringCache _routingKeyCache;
    private Utf8StringCache _consumerTagCache;

    private enum ContentKind
    {
        None,
        Deliver,
        Return,
        GetOk,
    }

    /// <summary>Whether deliveries on this channel come from a no-ack consumer (settling them sends nothing).</summary>
    internal bool DeliveriesNoAck { get; set; }

    internal void OnBasicDeliver(BasicDeliver.Reader deliver)
    {
        BeginContent(ContentKind.Deliver, BasicDeliver.Name);
        _consumerTag = _consumerTagCache.GetString(deliver.ConsumerTagBytes);
        _deliveryTag = deliver.DeliveryTag;
        _redelivered = deliver.Redelivered;
        _exchange = _exchangeCache.GetBytes(deliver.ExchangeBytes);
        _routingKey = _routingKeyCache.GetBytes(deliver.RoutingKeyBytes);
        _contentNoAck = DeliveriesNoAck;
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

        ReadOnlySpan<byte> rawProperties = payload.Slice(ContentHeader.PrefixLength);
        _headerSeen = true;
        _propertiesLength = rawProperties.Length;
        _bodyLength = (int)header.BodySize;
        _bodyReceived = 0;
        int total = _propertiesLength + _bodyLength;
        _bufferPooled = BodyMode == BodyReceiveMode.Pooled && _content == ContentKind.Deliver && total > 0;
        _bufferPool = _bufferPooled ? DeliveryBufferPool.For(total) : null;
        _buffer = total == 0 ? [] : _bufferPool is not null ? _bufferPool.Rent(total) : new byte[total];
        rawProperties.CopyTo(_buffer);
        if (_bodyLength == 0)
        {
            CompleteContent();
        }
    }

    internal void OnContentBody(in ReadOnlySequence<byte> payload)
    {
        if (!_headerSeen || _buffer is null)
        {
            throw new ProtocolViolationException($"Unexpected content body frame on channel {Id}.");
        }

        if (payload.Length > _bodyLength - _bodyReceived)
        {
            throw new AmqpFrameFormatException(
                $"The broker sent more body bytes than the {_bodyLength} announced on channel {Id}.");
        }

        payload.CopyTo(_buffer.AsSpan(_propertiesLength + _bodyReceived));
        _bodyReceived += (int)payload.Length;
        if (_bodyReceived == _bodyLength)
        {
            CompleteContent();
        }
    }

    /// <summary>Read loop, after a read batch in which this channel completed deliveries.</summary>
    internal void FlushDeliveries()
    {
        _deliveredInBatch = false;
        _handler.OnDeliveriesFlushed(this);
    }

    private void CompleteContent()
    {
        ContentKind kind = _content;
        byte[] buffer = _buffer!;
        _content = ContentKind.None;
        _buffer = null;
        _headerSeen = false;
        var rawProperties = new ReadOnlyMemory<byte>(buffer, 0, _propertiesLength);
        var body = new ReadOnlyMemory<byte>(buffer, _propertiesLength, _bodyLength);

        switch (kind)
        {
            case ContentKind.Deliver:
                _handler.OnDelivery(this, new ReceivedMessage(this, _deliveryTag, _redelivered, _consumerTag, _exchange,
                    _routingKey, rawProperties, body, _contentNoAck, _bufferPooled ? buffer : null,
                    _bufferPool));
                if (!_deliveredInBatch)
                {
                    _deliveredInBatch = true;
                    _connection.DeliveredInBatch(this);
                }

                break;
            case ContentKind.GetOk:
                CompleteRpc(new RpcResponse
                {
                    CommandId = BasicGetOk.CommandIdValue,
                    MessageCount = _messageCount,
                    Message = new ReceivedMessage(this, _deliveryTag, _redelivered, _consumerTag, _exchange,
                        _routingKey, rawProperties, body, _contentNoAck, pooledBuffer: null),
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
}
